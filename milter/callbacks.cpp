// callbacks: per-connection state behind smfi_setpriv, macro translation, and the reply.
#include "callbacks.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "explain.hpp"
#include "log.hpp"

namespace relaymilter {

namespace {

const LivePolicy* g_live = nullptr;
Protocol g_protocol = Protocol::lean;

// What one SMTP connection has told us so far.
struct Session {
    std::shared_ptr<const Policy> policy;
    uint64_t policy_version = 0;
    unsigned long steps = 0;  // protocol steps agreed with the MTA (SMFIP_*)
    std::optional<IpAddress> client;
    std::string client_name;
    std::optional<IpAddress> listener;
    std::string login;
    std::string from;
    bool broken = false;  // a no-reply step failed: refuse to decide rather than guess
};

// Protocol steps we do not need: the MTA skips them, and expects no reply to connect and MAIL.
// DATA is kept and answered although the policy ignores it: with DATA skipped (SMFIP_NODATA, or
// SMFIP_NR_DATA), Postfix 3.7 sends the DATA macros unanswered and then stalls on Nagle and
// delayed ACK for ~40 ms per message on a TCP milter socket (measured: 48-50 ms against 7-10 ms
// per session). One more round trip costs far less.
constexpr unsigned long kStepsWanted =
    SMFIP_NOHELO | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NR_CONN | SMFIP_NR_MAIL;

// The macros the policy reads, asked for by name so a trimmed MTA macro list still sends them.
char kConnectMacros[] = "{daemon_addr} {if_addr}";
char kMailMacros[] = "{auth_authen} {auth_type}";

Session* session_of(SMFICTX* ctx) { return static_cast<Session*>(smfi_getpriv(ctx)); }

sfsistat no_reply_or_continue(const Session* session, unsigned long flag) {
    return session && (session->steps & flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

std::string macro(SMFICTX* ctx, const char* name) {
    const char* value = smfi_getsymval(ctx, const_cast<char*>(name));
    return value ? std::string(value) : std::string();
}

std::optional<IpAddress> address_of(const sockaddr* sa) {
    if (!sa) return std::nullopt;
    if (sa->sa_family == AF_INET) {
        sockaddr_in sin{};
        std::memcpy(&sin, sa, sizeof sin);
        return IpAddress::from_v4(ntohl(sin.sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        sockaddr_in6 sin6{};
        std::memcpy(&sin6, sa, sizeof sin6);
        return IpAddress::from_v6_bytes(sin6.sin6_addr.s6_addr);
    }
    return std::nullopt;
}

// Sendmail's {if_addr} (may read "IPv6:..."; unset for loopback clients), else {daemon_addr}
// (Postfix: the address the client reached; Sendmail: the listening one, maybe a wildcard).
std::optional<IpAddress> listener_of(SMFICTX* ctx) {
    for (const char* name : {"{if_addr}", "{daemon_addr}"}) {
        std::string value = macro(ctx, name);
        if (value.empty()) continue;
        if (auto address = IpAddress::parse_tagged(value)) return address;
    }
    return std::nullopt;
}

std::string percent_doubled(const std::string& text) {
    std::string out;
    for (char c : text) {
        out += c;
        if (c == '%') out += '%';
    }
    return out;
}

// MTAs pass "[192.0.2.1]" as the host name when the client has none; log that as Postfix does,
// "unknown[192.0.2.1]".
std::string client_name_for_log(const std::string& name) {
    if (name.empty() || name.front() == '[') return "unknown";
    return log_safe(name);
}

void log_refusal(const Session& s, const char* rcpt, Rule rule, bool dry_run) {
    std::string line = dry_run ? "would-reject: " : "reject: ";
    line += "client=" + client_name_for_log(s.client_name) + "[" +
            (s.client ? s.client->to_string() : std::string("unknown")) + "]";
    line += " listener=" + (s.listener ? s.listener->to_string() : std::string("-"));
    line += " auth=" + (s.login.empty() ? std::string("-") : log_safe(s.login));
    line += " from=" + log_safe(bracketed(s.from));
    line += " to=" + log_safe(bracketed(rcpt));
    line += " rule=" + std::string(rule_name(rule));
    log_line(LOG_NOTICE, line);
}

// The one place a decision becomes a milter answer.
sfsistat answer(SMFICTX* ctx, Session& s, const char* rcpt, const Decision& decision) {
    if (decision.verdict == Verdict::accept) return SMFIS_CONTINUE;
    if (decision.verdict == Verdict::tempfail) return SMFIS_TEMPFAIL;
    const Policy& policy = *s.policy;
    const bool dry_run = policy.mode() == Mode::dry_run;
    log_refusal(s, rcpt, decision.rule, dry_run);
    if (dry_run) return SMFIS_CONTINUE;
    const Reply& reply = policy.reject_reply();
    std::string text = percent_doubled(reply.text);
    if (smfi_setreply(ctx, const_cast<char*>(reply.code.c_str()),
                      reply.enhanced.empty() ? nullptr : const_cast<char*>(reply.enhanced.c_str()),
                      text.data()) != MI_SUCCESS) {
        log_line(LOG_WARNING, "smfi_setreply failed; the MTA's default refusal is used");
    }
    return SMFIS_REJECT;
}

// Runs one callback's work. Any exception is logged and answered with tempfail; at a step the
// MTA expects no reply to (connect, MAIL with the no-reply flags), the session is marked instead
// and its next RCPT answers tempfail: the failure can never turn into an accept.
template <typename Work>
sfsistat guarded(const char* where, SMFICTX* ctx, unsigned long no_reply_step, Work&& work) noexcept {
    std::string why = "unknown error";
    try {
        return work();
    } catch (const std::exception& e) {
        try {
            why = e.what();
        } catch (...) {
        }
    } catch (...) {
    }
    Session* session = session_of(ctx);
    const bool no_reply = no_reply_step && session && (session->steps & no_reply_step);
    if (no_reply_step && session) session->broken = true;
    try {
        log_line(LOG_ERR, std::string(where) + ": internal error (" + why + "); " +
                              (no_reply ? "this session's recipients get tempfail" : "answering tempfail"));
    } catch (...) {
    }
    return no_reply ? SMFIS_NOREPLY : SMFIS_TEMPFAIL;
}

sfsistat on_negotiate(SMFICTX* ctx, unsigned long actions, unsigned long steps, unsigned long, unsigned long,
                      unsigned long* want_actions, unsigned long* want_steps, unsigned long* want_2,
                      unsigned long* want_3) {
    return guarded("negotiate", ctx, 0, [&] {
        auto* session = session_of(ctx);
        if (!session) {
            session = new Session();
            smfi_setpriv(ctx, session);
        }
        const bool lean = g_protocol == Protocol::lean;
        session->steps = lean ? steps & kStepsWanted : 0;
        *want_actions = lean ? actions & SMFIF_SETSYMLIST : 0;
        *want_steps = session->steps;
        *want_2 = 0;
        *want_3 = 0;
        if (lean && (actions & SMFIF_SETSYMLIST)) {
            smfi_setsymlist(ctx, SMFIM_CONNECT, kConnectMacros);
            smfi_setsymlist(ctx, SMFIM_ENVFROM, kMailMacros);
        }
        return SMFIS_CONTINUE;
    });
}

sfsistat on_connect(SMFICTX* ctx, char* hostname, _SOCK_ADDR* hostaddr) {
    return guarded("connect", ctx, SMFIP_NR_CONN, [&] {
        Session* session = session_of(ctx);
        if (!session) {  // an MTA that does not negotiate (milter protocol 2)
            session = new Session();
            smfi_setpriv(ctx, session);
        }
        session->client = address_of(hostaddr);
        session->client_name = hostname ? hostname : "";
        session->listener = listener_of(ctx);
        return no_reply_or_continue(session, SMFIP_NR_CONN);
    });
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
    return guarded("mail", ctx, SMFIP_NR_MAIL, [&] {
        Session* session = session_of(ctx);
        if (!session) throw std::runtime_error("MAIL before connect");
        session->from = argv && argv[0] ? argv[0] : "";
        session->login = macro(ctx, "{auth_authen}");
        return no_reply_or_continue(session, SMFIP_NR_MAIL);
    });
}

sfsistat on_envrcpt(SMFICTX* ctx, char** argv) {
    return guarded("rcpt", ctx, 0, [&] {
        Session* session = session_of(ctx);
        if (!session || session->broken) throw std::runtime_error("no usable session state");
        const char* rcpt = argv && argv[0] ? argv[0] : "";
        g_live->refresh(session->policy, session->policy_version);
        const Client client{session->client, session->listener, session->login};
        return answer(ctx, *session, rcpt, session->policy->decide(client, rcpt));
    });
}

// The steps --protocol full asks for and answers without looking at them.
sfsistat on_helo(SMFICTX*, char*) { return SMFIS_CONTINUE; }
sfsistat on_header(SMFICTX*, char*, char*) { return SMFIS_CONTINUE; }
sfsistat on_step(SMFICTX*) { return SMFIS_CONTINUE; }
sfsistat on_body(SMFICTX*, unsigned char*, size_t) { return SMFIS_CONTINUE; }
sfsistat on_unknown(SMFICTX*, const char*) { return SMFIS_CONTINUE; }

sfsistat on_close(SMFICTX* ctx) {
    delete session_of(ctx);
    smfi_setpriv(ctx, nullptr);
    return SMFIS_CONTINUE;
}

}  // namespace

smfiDesc milter_description(const LivePolicy& live, Protocol protocol) {
    g_live = &live;
    g_protocol = protocol;
    smfiDesc desc{};
    desc.xxfi_name = const_cast<char*>("relaymilter");
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = SMFIF_NONE;
    desc.xxfi_connect = on_connect;
    desc.xxfi_envfrom = on_envfrom;
    desc.xxfi_envrcpt = on_envrcpt;
    desc.xxfi_close = on_close;
    desc.xxfi_negotiate = on_negotiate;
    desc.xxfi_data = on_step;  // kept on purpose, see kStepsWanted
    if (protocol == Protocol::full) {
        desc.xxfi_helo = on_helo;
        desc.xxfi_header = on_header;
        desc.xxfi_eoh = on_step;
        desc.xxfi_body = on_body;
        desc.xxfi_eom = on_step;
        desc.xxfi_abort = on_step;
        desc.xxfi_unknown = on_unknown;
    }
    return desc;
}

}  // namespace relaymilter
