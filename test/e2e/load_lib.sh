# load_lib.sh: what the Postfix load tests (load_test, memory_test, signal_test) share, sourced by
# each after it sets $here: the harness, the private Postfix, the checks, and load_setup.
. "$here/../lib/harness.sh"
. "$here/postfix_lib.sh"
. "$here/checks.sh"

# load_setup RELAYMILTER SMTP_LOAD: sets bin and load (absolute), tmp (a fresh directory removed
# at exit, with Postfix stopped first), socket (in tmp/run, which Postfix's user owns), conf, mlog
# and milter_args (-u postfix). Fails unless run as root with the load generator built.
load_setup() {
    bin=$(realpath "$1")
    load=$(realpath "$2")
    trap 'pf_stop; harness_cleanup' EXIT
    [ "$(id -u)" = 0 ] || harness_fail "run as root"
    [ -x "$load" ] || harness_fail "no load generator at $load"
    harness_tmpdir
    tmp=$HARNESS_TMP
    mkdir "$tmp/run"
    chown postfix "$tmp/run"
    socket=$tmp/run/relaymilter.sock
    conf=$tmp/relaymilter.conf
    mlog=$tmp/relaymilter.log
    milter_args=(-u postfix)
}
