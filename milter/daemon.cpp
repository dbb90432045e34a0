// daemon: start-up order is socket (as root), detach, pid file, drop root, then serve. Signals
// are taken by the main thread with real handlers while libmilter runs in a thread of its own:
// the kernel hands a process-directed signal to the main thread first whenever it does not
// block it, so libmilter's own signal thread, which would stop the milter on SIGHUP, never
// sees one. The handlers only write the signal number to a pipe; the main loop acts on it.
#include "daemon.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <libmilter/mfapi.h>
#include <malloc.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "callbacks.hpp"
#include "version.hpp"

namespace relaymilter {

namespace {

int g_signal_pipe[2] = {-1, -1};
constexpr unsigned char kMilterEnded = 0;  // written by the libmilter thread when smfi_main returns

void on_signal(int sig) {
    int saved = errno;
    auto byte = static_cast<unsigned char>(sig);
    [[maybe_unused]] ssize_t n = ::write(g_signal_pipe[1], &byte, 1);
    errno = saved;
}

std::string errno_text() { return std::strerror(errno); }

// The filesystem path of a UNIX milter socket spec, or empty for inet sockets.
std::string unix_socket_path(const std::string& spec) {
    if (spec.rfind("unix:", 0) == 0) return spec.substr(5);
    if (spec.rfind("local:", 0) == 0) return spec.substr(6);
    if (!spec.empty() && spec.front() == '/') return spec;
    return {};
}

// libmilter takes smfi_stop() only when its listener's poll returns, which without traffic
// is a timeout of about 5 s; a connection to our own socket makes it return at once.
// Best effort: a host name in the socket spec is not resolved.
void wake_listener(const std::string& spec, const std::string& socket_path) {
    int fd = -1;
    if (!socket_path.empty()) {
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        if (socket_path.size() >= sizeof sun.sun_path) return;
        std::memcpy(sun.sun_path, socket_path.c_str(), socket_path.size());
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) [[maybe_unused]] int r = connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun);
    } else {
        const bool v6 = spec.rfind("inet6:", 0) == 0;
        const std::string rest = spec.substr(v6 ? 6 : 5);
        const auto at = rest.find('@');
        const auto port = static_cast<uint16_t>(std::atoi(rest.substr(0, at).c_str()));
        std::string host = at == std::string::npos ? "" : rest.substr(at + 1);
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        if (host.empty() || host == "0.0.0.0" || host == "::") host = v6 ? "::1" : "127.0.0.1";
        sockaddr_storage ss{};
        socklen_t length = 0;
        auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
        if (inet_pton(AF_INET, host.c_str(), &sin->sin_addr) == 1) {
            sin->sin_family = AF_INET;
            sin->sin_port = htons(port);
            length = sizeof *sin;
        } else if (inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) == 1) {
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons(port);
            length = sizeof *sin6;
        } else {
            return;
        }
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) [[maybe_unused]] int r = connect(fd, reinterpret_cast<sockaddr*>(&ss), length);
    }
    if (fd >= 0) ::close(fd);
}

// Whether something accepts connections on the UNIX socket at `path`: then it is not stale.
bool unix_socket_in_use(const std::string& path) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (path.size() >= sizeof sun.sun_path) return false;
    std::memcpy(sun.sun_path, path.c_str(), path.size());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    bool in_use = connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0;
    ::close(fd);
    return in_use;
}

struct Account {
    std::string name;
    uid_t uid;
    gid_t gid;
};

std::optional<Account> find_account(const std::string& name) {
    passwd* pw = getpwnam(name.c_str());
    if (!pw) return std::nullopt;
    return Account{pw->pw_name, pw->pw_uid, pw->pw_gid};
}

// Drops root for good: supplementary groups, group, user; then checks root cannot come back.
bool drop_privileges(const Account& account, std::string& why) {
    if (initgroups(account.name.c_str(), account.gid) != 0) return why = "initgroups: " + errno_text(), false;
    if (setgid(account.gid) != 0) return why = "setgid: " + errno_text(), false;
    if (setuid(account.uid) != 0) return why = "setuid: " + errno_text(), false;
    if (account.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) return why = "root could be regained", false;
    return true;
}

// Writes our pid to `path` without following a symlink planted there; a pid file left by a
// process that is gone is replaced, one of a running process is not.
bool write_pidfile(const std::string& path, std::optional<uid_t> owner, std::string& why) {
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
        if (S_ISREG(st.st_mode)) {
            int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            char buf[32] = {};
            if (fd >= 0) {
                [[maybe_unused]] ssize_t n = ::read(fd, buf, sizeof buf - 1);
                ::close(fd);
            }
            long pid = std::strtol(buf, nullptr, 10);
            if (pid > 0 && pid != getpid() && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) {
                why = path + ": relaymilter already runs as pid " + std::to_string(pid);
                return false;
            }
        }
        if (::unlink(path.c_str()) != 0) return why = path + ": cannot remove the stale pid file: " + errno_text(), false;
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return why = path + ": " + errno_text(), false;
    std::string text = std::to_string(getpid()) + "\n";
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (ok && owner) ok = fchown(fd, *owner, static_cast<gid_t>(-1)) == 0;
    if (!ok) why = path + ": " + errno_text();
    ::close(fd);
    return ok;
}

// Detaches from the terminal. The parent waits until the child reports start-up done and
// exits with the child's start-up code, so errors found after the fork still reach the caller.
int detach(int& ready_fd, bool keep_stderr) {
    int ready[2];
    if (pipe(ready) != 0) return EX_OSERR;
    pid_t child = fork();
    if (child < 0) return EX_OSERR;
    if (child > 0) {
        ::close(ready[1]);
        unsigned char code = EX_SOFTWARE;
        ssize_t n;
        do {
            n = ::read(ready[0], &code, 1);
        } while (n < 0 && errno == EINTR);
        _exit(n == 1 ? code : EX_SOFTWARE);
    }
    ::close(ready[0]);
    ready_fd = ready[1];
    setsid();
    if (chdir("/") != 0) return EX_OSERR;
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        if (!keep_stderr) dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO) ::close(null);
    }
    return EX_OK;
}

void report_ready(int& ready_fd, int code) {
    if (ready_fd < 0) return;
    auto byte = static_cast<unsigned char>(code);
    [[maybe_unused]] ssize_t n = ::write(ready_fd, &byte, 1);
    ::close(ready_fd);
    ready_fd = -1;
}

// libmilter runs sessions on threads it creates with default attributes: an 8 MiB stack each
// unless we say otherwise. Small stacks are cheaper to map and stay in glibc's stack cache, which
// cut relaymilter's CPU per refused SMTP session by ~10% here (570 -> 500 us, a private Postfix
// and smtp-source -s 20). Our callbacks need little stack; 512 KiB leaves room for sanitizers.
constexpr size_t kSessionStackBytes = 512 * 1024;

void set_session_stack_size() {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return;
    if (pthread_attr_setstacksize(&attr, kSessionStackBytes) == 0) pthread_setattr_default_np(&attr);
    pthread_attr_destroy(&attr);
}

void* stopper_thread(void*) {
    smfi_stop();  // blocks until libmilter's listener lets go of its lock
    return nullptr;
}

void* milter_thread(void* result) {
    *static_cast<int*>(result) = smfi_main();
    auto byte = kMilterEnded;
    [[maybe_unused]] ssize_t n = ::write(g_signal_pipe[1], &byte, 1);
    return nullptr;
}

std::string daemon_keys(const Conf& conf) {
    return conf.socket.value_or("") + "|" + conf.user.value_or("") + "|" + conf.pidfile.value_or("") + "|" +
           conf.log.value_or("");
}

std::string seconds_since(std::chrono::steady_clock::time_point start) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f s",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return text;
}

void reload(LivePolicy& live, const std::string& path, const std::string& started_keys) {
    const auto start = std::chrono::steady_clock::now();
    LoadedPolicy loaded = load_policy(path);
    if (!loaded.policy) {
        for (const ConfError& error : loaded.errors) log_line(LOG_ERR, "reload refused: " + error.to_string());
        log_line(LOG_ERR, "reload refused: " + path + " has errors; the policy in force stays");
        loaded = LoadedPolicy{};
        malloc_trim(0);
        return;
    }
    live.replace(loaded.policy);
    const std::string summary = loaded.policy->summary();
    const bool daemon_keys_changed = daemon_keys(*loaded.conf) != started_keys;
    loaded = LoadedPolicy{};  // drop our references: sessions may still hold the old policy
    malloc_trim(0);           // hand the conf's and the old policy's pages back (RSS stays flat)
    log_line(LOG_INFO, "reload: " + path + ": " + summary + " (loaded in " + seconds_since(start) + ")");
    if (daemon_keys_changed) {
        log_line(LOG_WARNING, "reload: socket, user, pidfile and log changes take effect at restart");
    }
}

}  // namespace

int run_daemon(const DaemonSettings& settings, LoadedPolicy loaded) {
    log_open(settings.log);
    const std::string started_keys = daemon_keys(*loaded.conf);
    LivePolicy live(loaded.policy);

    std::optional<Account> account;
    if (settings.user) {
        account = find_account(*settings.user);
        if (!account) {
            log_line(LOG_ERR, "user '" + *settings.user + "': no such user");
            return EX_CONFIG;
        }
        if (getuid() != 0 && getuid() != account->uid) {
            log_line(LOG_ERR, "user '" + *settings.user + "': only root can switch to another user");
            return EX_NOPERM;
        }
    } else if (getuid() == 0) {
        log_line(LOG_WARNING, "running as root: set 'user = relaymilter' in the conf (or -u USER) to drop root");
    }

    smfiDesc desc = milter_description(live, settings.protocol);
    if (smfi_register(desc) != MI_SUCCESS) {
        log_line(LOG_ERR, "smfi_register failed");
        return EX_SOFTWARE;
    }
    std::string spec = settings.socket;
    if (smfi_setconn(spec.data()) != MI_SUCCESS) {
        log_line(LOG_ERR, "socket '" + spec + "': libmilter refused it");
        return EX_USAGE;
    }
    smfi_setbacklog(256);
    const std::string socket_path = unix_socket_path(spec);
    if (!socket_path.empty() && unix_socket_in_use(socket_path)) {
        log_line(LOG_ERR, "cannot create the milter socket '" + spec + "': another process is listening on it");
        return EX_OSERR;
    }
    mode_t old_umask = umask(socket_path.empty() ? 022 : 0117);  // the socket is made 0660
    errno = 0;
    const bool opened = smfi_opensocket(true) == MI_SUCCESS;
    const int open_errno = errno;
    umask(old_umask);
    if (!opened) {
        std::string why = open_errno ? std::strerror(open_errno) : "see the mail log for libmilter's reason";
        log_line(LOG_ERR, "cannot create the milter socket '" + spec + "': " + why);
        return EX_OSERR;
    }
    struct stat made {};  // the socket we made: at exit we remove it, not a successor's
    if (!socket_path.empty()) lstat(socket_path.c_str(), &made);
    if (!socket_path.empty() && account && getuid() == 0 &&
        lchown(socket_path.c_str(), account->uid, account->gid) != 0) {
        log_line(LOG_ERR, "cannot hand the socket " + socket_path + " to " + account->name + ": " + errno_text());
        return EX_OSERR;
    }

    int ready_fd = -1;
    if (!settings.foreground) {
        if (int code = detach(ready_fd, settings.log == LogTarget::stderr_stream); code != EX_OK) {
            log_line(LOG_ERR, "cannot detach: " + errno_text());
            return code;
        }
        log_open(settings.log);  // the child's pid
    }
    auto fail = [&ready_fd](int code, const std::string& why) {
        log_line(LOG_ERR, why);
        report_ready(ready_fd, code);
        return code;
    };
    if (settings.pidfile) {
        std::string why;
        std::optional<uid_t> owner;
        if (account && getuid() == 0) owner = account->uid;
        if (!write_pidfile(*settings.pidfile, owner, why)) return fail(EX_CANTCREAT, "pid file " + why);
    }
    if (account && getuid() == 0) {
        std::string why;
        if (!drop_privileges(*account, why)) return fail(EX_NOPERM, "cannot drop root to " + account->name + ": " + why);
    }

    if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) return fail(EX_OSERR, "pipe: " + errno_text());
    set_session_stack_size();
    signal(SIGPIPE, SIG_IGN);
    sigset_t handled;
    sigemptyset(&handled);
    for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&handled, sig);
    sigset_t old_mask;
    pthread_sigmask(SIG_BLOCK, &handled, &old_mask);  // the libmilter thread inherits this
    int milter_result = MI_FAILURE;
    pthread_t milter;
    if (pthread_create(&milter, nullptr, milter_thread, &milter_result) != 0) {
        return fail(EX_OSERR, "cannot start the milter thread");
    }
    struct sigaction action {};
    action.sa_handler = on_signal;
    action.sa_flags = SA_NODEFER;  // never blocked in the main thread, even inside the handler
    sigemptyset(&action.sa_mask);
    for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaction(sig, &action, nullptr);
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

    log_line(LOG_INFO, std::string("relaymilter ") + kVersion + " starting: socket=" + spec + " conf=" +
                           settings.conf_path + ": " + loaded.policy->summary());
    report_ready(ready_fd, EX_OK);

    bool stopping = false;
    for (bool running = true; running;) {
        if (stopping) {  // poke the listener until libmilter's loop has ended
            pollfd pfd{g_signal_pipe[0], POLLIN, 0};
            if (poll(&pfd, 1, 100) == 0) {
                wake_listener(spec, socket_path);
                continue;
            }
        }
        unsigned char sig = 0;
        ssize_t n = ::read(g_signal_pipe[0], &sig, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n != 1) break;
        switch (sig) {
        case SIGHUP:
            reload(live, settings.conf_path, started_keys);
            break;
        case SIGTERM:
        case SIGINT: {
            if (stopping) break;
            log_line(LOG_INFO, std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
            stopping = true;
            pthread_t stopper;
            if (pthread_create(&stopper, nullptr, stopper_thread, nullptr) == 0) {
                pthread_detach(stopper);
            } else {
                smfi_stop();
            }
            wake_listener(spec, socket_path);
            break;
        }
        case kMilterEnded:
            if (!stopping) log_line(LOG_ERR, "libmilter's main loop ended on its own");
            running = false;
            break;
        default:
            break;
        }
    }
    pthread_join(milter, nullptr);

    if (settings.pidfile && ::unlink(settings.pidfile->c_str()) != 0 && errno != ENOENT) {
        log_line(LOG_WARNING, "cannot remove the pid file " + *settings.pidfile + ": " + errno_text());
    }
    struct stat st {};
    if (!socket_path.empty() && lstat(socket_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
        st.st_ino == made.st_ino && st.st_dev == made.st_dev && ::unlink(socket_path.c_str()) != 0) {
        log_line(LOG_WARNING, "cannot remove the socket " + socket_path + ": " + errno_text());
    }
    log_line(LOG_INFO, "stopped");
    return milter_result == MI_SUCCESS ? EX_OK : EX_SOFTWARE;
}

}  // namespace relaymilter
