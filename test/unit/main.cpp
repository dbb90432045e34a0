// The Catch2 main for the unit tests (Catch2 v2, Debian's catch2 package).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
