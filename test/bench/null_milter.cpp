// null_milter: a libmilter milter that decides nothing, for the MTA benchmark: the floor any
// milter costs an MTA. Not part of relaymilter.
//   null_milter SOCKET plain|lean|bare
// plain: connect, HELO, MAIL, RCPT, DATA, header, EOH, body and EOM callbacks that all say
//        continue, and no negotiation: what a simple milter does.
// lean:  only connect, MAIL, RCPT and DATA, negotiated the way relaymilter negotiates.
// bare:  no callbacks at all: libmilter answers what the MTA still sends.
#include <libmilter/mfapi.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

sfsistat cont_connect(SMFICTX*, char*, _SOCK_ADDR*) { return SMFIS_CONTINUE; }
sfsistat cont_helo(SMFICTX*, char*) { return SMFIS_CONTINUE; }
sfsistat cont_argv(SMFICTX*, char**) { return SMFIS_CONTINUE; }
sfsistat cont_header(SMFICTX*, char*, char*) { return SMFIS_CONTINUE; }
sfsistat cont_ctx(SMFICTX*) { return SMFIS_CONTINUE; }
sfsistat cont_body(SMFICTX*, unsigned char*, size_t) { return SMFIS_CONTINUE; }

unsigned long g_lean_steps = 0;

sfsistat lean_negotiate(SMFICTX*, unsigned long, unsigned long steps, unsigned long, unsigned long,
                        unsigned long* a, unsigned long* s, unsigned long* f2, unsigned long* f3) {
    const unsigned long wanted =
        SMFIP_NOHELO | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NR_CONN | SMFIP_NR_MAIL;
    g_lean_steps = steps & wanted;
    *a = 0;
    *s = g_lean_steps;
    *f2 = *f3 = 0;
    return SMFIS_CONTINUE;
}
sfsistat lean_connect(SMFICTX*, char*, _SOCK_ADDR*) {
    return (g_lean_steps & SMFIP_NR_CONN) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}
sfsistat lean_mail(SMFICTX*, char**) { return (g_lean_steps & SMFIP_NR_MAIL) ? SMFIS_NOREPLY : SMFIS_CONTINUE; }

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: null_milter SOCKET plain|lean|bare\n");
        return 64;
    }
    const std::string mode = argv[2];
    smfiDesc desc{};
    desc.xxfi_name = const_cast<char*>("null_milter");
    desc.xxfi_version = SMFI_VERSION;
    if (mode == "plain") {
        desc.xxfi_connect = cont_connect;
        desc.xxfi_helo = cont_helo;
        desc.xxfi_envfrom = cont_argv;
        desc.xxfi_envrcpt = cont_argv;
        desc.xxfi_data = cont_ctx;
        desc.xxfi_header = cont_header;
        desc.xxfi_eoh = cont_ctx;
        desc.xxfi_body = cont_body;
        desc.xxfi_eom = cont_ctx;
    } else if (mode == "lean") {
        desc.xxfi_negotiate = lean_negotiate;
        desc.xxfi_connect = lean_connect;
        desc.xxfi_envfrom = lean_mail;
        desc.xxfi_envrcpt = cont_argv;
        desc.xxfi_data = cont_ctx;
    } else if (mode != "bare") {
        std::fprintf(stderr, "null_milter: unknown mode %s\n", argv[2]);
        return 64;
    }
    if (smfi_register(desc) != MI_SUCCESS || smfi_setconn(argv[1]) != MI_SUCCESS || smfi_opensocket(true) != MI_SUCCESS) {
        std::fprintf(stderr, "null_milter: cannot listen on %s\n", argv[1]);
        return 71;
    }
    smfi_setbacklog(256);
    return smfi_main() == MI_SUCCESS ? 0 : 70;
}
