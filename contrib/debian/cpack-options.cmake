# Read by CPack at package time: install the conf itself, not a .dist beside an existing one.
set(RELAYMILTER_PACKAGING ON)
