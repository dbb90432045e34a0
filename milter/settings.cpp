// settings: merging the command line over the conf, and the conf check's look at the machine.
#include "settings.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "metrics.hpp"
#include "redis_store.hpp"

namespace relaymilter {

namespace {

// Whether `who` (uid, primary gid, its groups) may create a file in the directory `st`.
bool can_create_in(const struct stat& st, uid_t uid, const std::vector<gid_t>& groups) {
    if (uid == 0) return true;
    if (st.st_uid == uid) return (st.st_mode & (S_IWUSR | S_IXUSR)) == (S_IWUSR | S_IXUSR);
    if (std::find(groups.begin(), groups.end(), st.st_gid) != groups.end()) {
        return (st.st_mode & (S_IWGRP | S_IXGRP)) == (S_IWGRP | S_IXGRP);
    }
    return (st.st_mode & (S_IWOTH | S_IXOTH)) == (S_IWOTH | S_IXOTH);
}

std::vector<gid_t> groups_of(const char* name, gid_t primary) {
    int count = 32;
    std::vector<gid_t> groups(static_cast<size_t>(count));
    if (getgrouplist(name, primary, groups.data(), &count) < 0) {
        groups.resize(static_cast<size_t>(count));
        getgrouplist(name, primary, groups.data(), &count);
    }
    groups.resize(static_cast<size_t>(std::max(count, 0)));
    return groups;
}

}  // namespace

std::variant<DaemonSettings, std::string> daemon_settings(const Conf& conf, const CommandLine& flags,
                                                          const SocketSpec& default_socket) {
    SocketSpec socket = conf.daemon.socket.value_or(default_socket);
    if (flags.socket) {
        auto parsed = SocketSpec::parse(*flags.socket);
        if (auto* problem = std::get_if<std::string>(&parsed)) return "--socket " + *problem;
        socket = std::get<SocketSpec>(parsed);
    }
    DaemonSettings s{.conf_path = flags.conf_path, .socket = socket, .conf = conf.daemon};
    s.user = conf.daemon.user;
    if (flags.user) {
        if (auto problem = user_problem(*flags.user)) return "--user " + *problem;
        s.user = flags.user;
    }
    s.pidfile = conf.daemon.pidfile;
    if (flags.pidfile) {
        if (auto problem = pidfile_problem(*flags.pidfile)) return "--pidfile " + *problem;
        s.pidfile = flags.pidfile;
    }
    std::string log = conf.daemon.log.value_or("syslog");
    if (flags.log) {
        if (auto problem = log_problem(*flags.log)) return "--log " + *problem;
        log = *flags.log;
    }
    s.log = log == "stderr" ? LogTarget::stderr_stream : LogTarget::syslog;
    if (flags.protocol) {
        if (*flags.protocol != "lean" && *flags.protocol != "full") return "--protocol '" + *flags.protocol + "' is not lean or full";
        s.protocol = *flags.protocol == "full" ? Protocol::full : Protocol::lean;
    }
    s.foreground = flags.foreground;
    return s;
}

SettingsCheck check_settings(const DaemonSettings& s, const Conf& conf) {
    SettingsCheck check;
    if (conf.local_domains.empty()) {
        check.warnings.push_back("no local-domain: every recipient is a relay attempt, refused unless the client may relay");
    }
    // The user: the daemon stops (78) without it. A socket directory it cannot write is only a
    // warning: the check may run before the directory exists, as another user, or on another host.
    uid_t uid = geteuid();
    std::string who = "the user running this check";
    std::vector<gid_t> groups;
    if (s.user) {
        const passwd* pw = getpwnam(s.user->c_str());
        if (!pw) {
            check.errors.push_back("user '" + *s.user + "': no such user (the daemon would stop with exit 78)");
        } else {
            uid = pw->pw_uid;
            who = "user " + *s.user;
            groups = groups_of(pw->pw_name, pw->pw_gid);
        }
    } else {
        groups.push_back(getegid());
    }
    if (s.socket.kind() == SocketSpec::Kind::unix_path) {
        const std::string& path = s.socket.path();
        const std::string dir = path.substr(0, std::max<size_t>(path.rfind('/'), 1));
        struct stat st {};
        if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            check.warnings.push_back("socket " + s.socket.text() + ": the directory " + dir +
                                     " does not exist; the daemon cannot make its socket until it does");
        } else if (!can_create_in(st, uid, groups)) {
            check.warnings.push_back("socket " + s.socket.text() + ": " + who + " cannot create files in " + dir +
                                     " (the daemon makes the socket as root before dropping to user, unless started as user)");
        }
    }
    if (s.conf.metrics && s.conf.metrics->is_v6() && !Metrics::ipv6_supported()) {
        check.errors.push_back("metrics = " + s.conf.metrics->to_string() +
                               ": this build's HTTP server (civetweb) cannot listen on IPv6; use inet:PORT@127.0.0.1");
    }
    if (s.conf.limits_store.shared()) {
        const StoreCheck store = RedisStore::check(s.conf.limits_store, s.conf.limits_store_timeout);
        if (store.result == StoreCheck::Result::refused) {
            check.errors.push_back("limits-store = " + s.conf.limits_store.display() + ": " + store.reason);
        } else if (store.result == StoreCheck::Result::unreachable) {
            check.warnings.push_back("limits-store = " + s.conf.limits_store.display() + ": cannot reach it now (" +
                                     store.reason + "); the daemon starts anyway and counts " +
                                     (s.conf.limits_store_failure == StoreFailure::local
                                          ? "locally until it answers"
                                          : "nothing: authenticated relays get tempfail until it answers"));
        }
    }
    return check;
}

}  // namespace relaymilter
