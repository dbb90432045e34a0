// Tests for policy/local_domains: exact names, every-subdomain entries, literals.
#include <catch2/catch.hpp>

#include "local_domains.hpp"

using namespace relaymilter;

TEST_CASE("LocalDomains matches exact names and subdomain entries", "[local_domains]") {
    LocalDomains domains;
    domains.add("example.com");
    domains.add(".corp.example.net");
    domains.add("[192.0.2.25]");
    struct Row {
        const char* label;
        const char* domain;
        bool want;
    };
    const Row rows[] = {
        {"exact", "example.com", true},
        {"subdomain of an exact entry is not local", "mail.example.com", false},
        {"parent of an exact entry is not local", "com", false},
        {"subdomain entry: one level", "a.corp.example.net", true},
        {"subdomain entry: two levels", "b.a.corp.example.net", true},
        {"subdomain entry does not cover its own name", "corp.example.net", false},
        {"look-alike suffix", "evilcorp.example.net", false},
        {"literal", "[192.0.2.25]", true},
        {"other literal", "[192.0.2.26]", false},
        {"empty", "", false},
    };
    for (const Row& row : rows) {
        INFO(row.label << ": " << row.domain << ", want " << row.want);
        CHECK(domains.contains(row.domain) == row.want);
    }
    CHECK(domains.size() == 3);
}
