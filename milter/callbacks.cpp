// callbacks: per-connection state behind smfi_setpriv, macro translation, and the reply.
#include "callbacks.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <new>
#include <stdexcept>
#include <string>

#include "log.hpp"
#include "notices.hpp"

namespace relaymilter {

namespace {

const LivePolicy* g_live = nullptr;
LimitStore* g_store = nullptr;
Metrics* g_metrics = nullptr;
std::array<Metrics::RuleCounters, kRuleCount> g_rule_counters;  // by Rule, found once
Protocol g_protocol = Protocol::lean;

// What one SMTP connection has told us so far.
struct Session {
    std::shared_ptr<const Policy> policy;
    uint64_t policy_version = 0;
    unsigned long steps = 0;  // protocol steps agreed with the MTA (SMFIP_*)
    std::optional<IpAddress> client;
    std::string client_name;
    std::optional<IpAddress> listener;
    std::optional<uint16_t> port;  // the listener's, macro {daemon_port}
    std::string login;
    std::string from;
    bool message_counted = false;  // a relayed recipient of this message was counted for its login
    bool port_unknown_logged = false;
    bool broken = false;  // a no-reply step failed: refuse to decide rather than guess
    bool rewrite_offered = true;  // the MTA offered to let us delete and add recipients
    std::string mta;              // the MTA's name and version, macro v
    // Accepted recipients whose success or delay notice request must be dropped at end of
    // message (the client may not send mail to the sender): the address, its ESMTP arguments
    // with NOTIFY=FAILURE in place of the request, and the request and rule for the log.
    struct Neutralised {
        std::string rcpt;
        std::string args;
        std::string notify;
        Rule rule;
    };
    std::vector<Neutralised> neutralised;
};

// Protocol steps we do not need: the MTA skips them, and expects no reply to connect and MAIL.
// DATA is kept and answered although the policy ignores it: with DATA skipped (SMFIP_NODATA, or
// SMFIP_NR_DATA), Postfix 3.7 sends the DATA macros unanswered and then stalls on Nagle and
// delayed ACK for ~40 ms per message on a TCP milter socket (measured: 48-50 ms against 7-10 ms
// per session). One more round trip costs far less.
constexpr unsigned long kStepsWanted =
    SMFIP_NOHELO | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NR_CONN | SMFIP_NR_MAIL;
// A recipient's notice request is dropped by deleting it and adding it again with NOTIFY=FAILURE
// at end of message (the only way a milter can change its ESMTP arguments).
constexpr unsigned long kRewriteActions = SMFIF_DELRCPT | SMFIF_ADDRCPT_PAR;

// The macros the policy reads, asked for by name so a trimmed MTA macro list still sends them.
char kConnectMacros[] = "{daemon_addr} {if_addr} {daemon_port} v";
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

// The listener's port from {daemon_port} (Postfix, Sendmail) or a bare daemon_port (libmilter
// matches long names only as sent), when the MTA gave one that reads as a port.
std::optional<uint16_t> port_of(SMFICTX* ctx) {
    std::string text = macro(ctx, "{daemon_port}");
    if (text.empty()) text = macro(ctx, "daemon_port");
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
        return std::nullopt;
    }
    return static_cast<uint16_t>(value);
}

// The time the policy counts with (it reads no clock itself).
Microseconds now() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<Microseconds>(ts.tv_sec) * kSecond + ts.tv_nsec / 1000;
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

// The client as log lines show it: "unknown[192.0.2.1]".
std::string client_text(const Session& s) {
    return client_name_for_log(s.client_name) + "[" + (s.client ? s.client->to_string() : std::string("unknown")) + "]";
}

// One log line about a recipient: "TAG: client=... listener=... auth=... from=<...> to=<...>" and
// what follows (the rule, the notice request).
void log_recipient(const char* tag, const Session& s, std::string_view rcpt, const std::string& rest) {
    std::string line = tag;
    line += ": client=" + client_text(s);
    line += " listener=" + (s.listener ? s.listener->to_string() : std::string("-"));
    line += " auth=" + (s.login.empty() ? std::string("-") : log_safe(s.login));
    line += " from=" + log_safe(bracketed(s.from));
    line += " to=" + log_safe(bracketed(rcpt));
    line += " " + rest;
    log_line(LOG_NOTICE, line);
}

// "2026-12-02T14:00:00Z"
std::string utc_text(Microseconds t) {
    const std::time_t seconds = static_cast<std::time_t>(t / kSecond);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

// "rule=login-limit limit=recipients:500/1h", as the refusal line ends.
std::string rule_text(const Decision& d) {
    std::string text = "rule=" + std::string(rule_name(d.rule));
    switch (d.limit.kind) {
    case LimitDetail::Kind::recipients: text += " limit=recipients:" + rate_text(d.limit.rate); break;
    case LimitDetail::Kind::messages: text += " limit=messages:" + rate_text(d.limit.rate); break;
    case LimitDetail::Kind::clients: text += " limit=clients:" + rate_text(d.limit.rate); break;
    case LimitDetail::Kind::none: break;
    }
    if (d.rule == Rule::login_locked && d.limit.locked_until) text += " until=" + utc_text(d.limit.locked_until);
    return text;
}

// A lock made by this attempt, logged once, with what tripped it.
void log_lock(const Session& s, const Decision& d, bool dry_run) {
    log_line(LOG_WARNING, std::string(dry_run ? "would-lock" : "lock") + ": login=" + log_safe(s.login) +
                              " clients=" + std::to_string(d.limit.clients) + "/" + std::to_string(d.limit.rate.count) +
                              " in " + duration_text(d.limit.rate.period_seconds) + " until=" +
                              utc_text(d.limit.locked_until) + " last=" +
                              (s.client ? s.client->to_string() : std::string("unknown")));
}

// The one place a decision becomes a milter answer.
sfsistat answer(SMFICTX* ctx, Session& s, const char* rcpt, const Decision& decision) {
    const Policy& policy = *s.policy;
    const Action action = policy.action(decision);
    if (decision.limit.locked_now) {
        log_lock(s, decision, action == Action::would_refuse);
        if (g_metrics) g_metrics->login_locked();
    }
    switch (action) {
    case Action::accept: return SMFIS_CONTINUE;
    case Action::would_refuse:
        log_recipient("would-reject", s, rcpt, rule_text(decision));
        return SMFIS_CONTINUE;
    case Action::refuse:
    case Action::tempfail: break;
    }
    log_recipient("reject", s, rcpt, rule_text(decision));
    const Reply& reply = policy.reply(decision);
    std::string text = percent_doubled(reply.text);
    if (smfi_setreply(ctx, const_cast<char*>(reply.code.c_str()),
                      reply.enhanced.empty() ? nullptr : const_cast<char*>(reply.enhanced.c_str()),
                      text.data()) != MI_SUCCESS) {
        log_line(LOG_WARNING, "smfi_setreply failed; the MTA's default refusal is used");
    }
    return reply.code[0] == '4' ? SMFIS_TEMPFAIL : SMFIS_REJECT;
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
    if (g_metrics) g_metrics->callback_error(where);
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
            if (g_metrics) g_metrics->session_opened();
        }
        const bool lean = g_protocol == Protocol::lean;
        session->steps = lean ? steps & kStepsWanted : 0;
        session->rewrite_offered = (actions & kRewriteActions) == kRewriteActions;
        *want_actions = (actions & kRewriteActions) | (lean ? actions & SMFIF_SETSYMLIST : 0);
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
            if (g_metrics) g_metrics->session_opened();
        }
        session->client = address_of(hostaddr);
        session->client_name = hostname ? hostname : "";
        session->listener = listener_of(ctx);
        session->port = port_of(ctx);
        session->mta = macro(ctx, "v");
        return no_reply_or_continue(session, SMFIP_NR_CONN);
    });
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
    return guarded("mail", ctx, SMFIP_NR_MAIL, [&] {
        Session* session = session_of(ctx);
        if (!session) throw std::runtime_error("MAIL before connect");
        session->from = argv && argv[0] ? argv[0] : "";
        session->login = macro(ctx, "{auth_authen}");
        session->neutralised.clear();  // a new transaction
        session->message_counted = false;
        return no_reply_or_continue(session, SMFIP_NR_MAIL);
    });
}

// Why this MTA cannot drop a recipient's notice request for us, or nullptr when it can. Postfix
// applies a deleted and re-added recipient's new NOTIFY (seen in its queue file); Sendmail
// revives the deleted recipient and keeps its old NOTIFY flags (sendmail/recipient.c), so there
// only its own PrivacyOptions=noreceipts helps; an MTA not known to apply it is not trusted to.
const char* why_notices_cannot_be_dropped(const Session& s) {
    if (!s.rewrite_offered) return "the MTA does not let milters delete and add recipients";
    if (s.mta.rfind("Postfix", 0) == 0) return nullptr;
    return s.mta.empty() ? "the MTA did not say what it is (macro v), so it is not known to drop them"
                         : "this MTA keeps a recipient's notice request when a milter re-adds it (Sendmail does: "
                           "set PrivacyOptions=noreceipts, see relaymilter.mc)";
}

// An accepted recipient asking for a success or delay notice: the notice would be mail to the
// sender, so unless the policy lets it go there, the request is noted and dropped at end of message.
sfsistat check_notice_request(Session& s, const Client& client, const char* rcpt, char** argv) {
    std::vector<std::string_view> args;
    for (char** arg = argv && argv[0] ? argv + 1 : argv; arg && *arg; ++arg) args.emplace_back(*arg);
    const std::string_view notify = success_or_delay_notify(args);
    if (notify.empty()) return SMFIS_CONTINUE;
    const Decision decision = s.policy->notice_decision(client, s.from);
    const Action action = s.policy->action(decision);
    if (action == Action::accept) return SMFIS_CONTINUE;
    const std::string rest = "notify=" + log_safe(notify) + " rule=" + std::string(rule_name(decision.rule));
    if (action == Action::would_refuse) {
        log_recipient("would-suppress-notice", s, rcpt, rest);
        return SMFIS_CONTINUE;
    }
    if (const char* why = why_notices_cannot_be_dropped(s)) {
        log_line(LOG_ERR, "rcpt: a success or delay notice to " + log_safe(bracketed(s.from)) + " must not be sent, but " +
                              why + "; answering tempfail (to=" + log_safe(bracketed(rcpt)) + ")");
        return SMFIS_TEMPFAIL;
    }
    for (const auto& n : s.neutralised) {
        if (n.rcpt == rcpt) return SMFIS_CONTINUE;  // the same address twice: one rewrite covers both
    }
    s.neutralised.push_back({rcpt, failure_notices_only(args), std::string(notify), decision.rule});
    return SMFIS_CONTINUE;
}

sfsistat on_envrcpt(SMFICTX* ctx, char** argv) {
    return guarded("rcpt", ctx, 0, [&] {
        Session* session = session_of(ctx);
        if (!session || session->broken) throw std::runtime_error("no usable session state");
        const char* rcpt = argv && argv[0] ? argv[0] : "";
        g_live->refresh(session->policy, session->policy_version);
        const Policy& policy = *session->policy;
        const Client client{session->client, session->listener, session->login, session->port};
        if (!client.login.empty() && !client.port && policy.has_authenticated_ports() && !session->port_unknown_logged) {
            session->port_unknown_logged = true;
            log_line(LOG_WARNING, "rcpt: authenticated-port is set but the MTA did not say the listener's port "
                                  "({daemon_port}); authentication allows no relay in this session (client=" +
                                      client_text(*session) + " auth=" + log_safe(client.login) + ")");
        }
        const auto started = std::chrono::steady_clock::now();
        Counting counting{*g_store, now(), !session->message_counted};
        const Decision decision = policy.decide(client, rcpt, &counting);
        if (g_metrics) {
            g_metrics->decision(g_rule_counters[static_cast<size_t>(decision.rule)], policy.action(decision),
                                std::chrono::steady_clock::now() - started);
        }
        if (decision.limit.counted) session->message_counted = true;
        const sfsistat answered = answer(ctx, *session, rcpt, decision);
        if (answered != SMFIS_CONTINUE) return answered;
        return check_notice_request(*session, client, rcpt, argv);
    });
}

// End of message: each recipient whose notice request must go is deleted and added again with
// NOTIFY=FAILURE: no success or delay notice, failure notices as if the client had not used DSN.
// Failing halfway would leave a recipient deleted: the message is tempfailed.
sfsistat on_eom(SMFICTX* ctx) {
    return guarded("eom", ctx, 0, [&] {
        Session* session = session_of(ctx);
        if (!session || session->neutralised.empty()) return SMFIS_CONTINUE;
        for (Session::Neutralised& n : session->neutralised) {
            if (smfi_delrcpt(ctx, n.rcpt.data()) != MI_SUCCESS ||
                smfi_addrcpt_par(ctx, n.rcpt.data(), n.args.data()) != MI_SUCCESS) {
                throw std::runtime_error("the MTA refused to change the recipient " + log_safe(bracketed(n.rcpt)));
            }
            log_recipient("notice-suppressed", *session, n.rcpt,
                          "notify=" + log_safe(n.notify) + " rule=" + std::string(rule_name(n.rule)));
            if (g_metrics) g_metrics->notice_suppressed();
        }
        session->neutralised.clear();
        return SMFIS_CONTINUE;
    });
}

// The steps --protocol full asks for and answers without looking at them.
sfsistat on_helo(SMFICTX*, char*) { return SMFIS_CONTINUE; }
sfsistat on_header(SMFICTX*, char*, char*) { return SMFIS_CONTINUE; }
sfsistat on_step(SMFICTX*) { return SMFIS_CONTINUE; }
sfsistat on_body(SMFICTX*, unsigned char*, size_t) { return SMFIS_CONTINUE; }
sfsistat on_unknown(SMFICTX*, const char*) { return SMFIS_CONTINUE; }

sfsistat on_close(SMFICTX* ctx) {
    if (session_of(ctx) && g_metrics) g_metrics->session_closed();
    delete session_of(ctx);
    smfi_setpriv(ctx, nullptr);
    return SMFIS_CONTINUE;
}

}  // namespace

smfiDesc bind_callbacks(const CallbackContext& context) {
    g_live = &context.live;
    g_store = &context.store;
    g_metrics = context.metrics;
    g_protocol = context.protocol;
    const Protocol protocol = context.protocol;
    if (g_metrics) {
        for (size_t r = 0; r < kRuleCount; ++r) g_rule_counters[r] = g_metrics->rule(rule_name(static_cast<Rule>(r)));
    }
    smfiDesc desc{};
    desc.xxfi_name = const_cast<char*>("relaymilter");
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = kRewriteActions;
    desc.xxfi_connect = on_connect;
    desc.xxfi_envfrom = on_envfrom;
    desc.xxfi_envrcpt = on_envrcpt;
    desc.xxfi_close = on_close;
    desc.xxfi_negotiate = on_negotiate;
    desc.xxfi_data = on_step;  // kept on purpose, see kStepsWanted
    desc.xxfi_eom = on_eom;
    if (protocol == Protocol::full) {
        desc.xxfi_helo = on_helo;
        desc.xxfi_header = on_header;
        desc.xxfi_eoh = on_step;
        desc.xxfi_body = on_body;
        desc.xxfi_abort = on_step;
        desc.xxfi_unknown = on_unknown;
    }
    return desc;
}

}  // namespace relaymilter
