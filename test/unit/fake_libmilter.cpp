// fake_libmilter: the smfi_* functions callbacks.cpp calls, backed by smfi_str above.
#include "fake_libmilter.hpp"

#include <stdexcept>

int smfi_setpriv(SMFICTX* ctx, void* data) {
    ctx->priv = data;
    return MI_SUCCESS;
}

void* smfi_getpriv(SMFICTX* ctx) { return ctx->priv; }

char* smfi_getsymval(SMFICTX* ctx, char* name) {
    if (ctx->throw_on_getsymval) throw std::runtime_error("macro table unreadable");
    auto it = ctx->macros.find(name);
    return it == ctx->macros.end() ? nullptr : it->second.data();
}

int smfi_setreply(SMFICTX* ctx, char* rcode, char* xcode, char* message) {
    ctx->rcode = rcode ? rcode : "";
    ctx->xcode = xcode ? xcode : "";
    ctx->message = message ? message : "";
    return MI_SUCCESS;
}

int smfi_setsymlist(SMFICTX*, int, char*) { return MI_SUCCESS; }

int smfi_delrcpt(SMFICTX* ctx, char* rcpt) {
    if (ctx->refuse_changes) return MI_FAILURE;
    ctx->envelope_changes.push_back("delrcpt " + std::string(rcpt));
    return MI_SUCCESS;
}

int smfi_addrcpt_par(SMFICTX* ctx, char* rcpt, char* args) {
    if (ctx->refuse_changes) return MI_FAILURE;
    ctx->envelope_changes.push_back("addrcpt " + std::string(rcpt) + " " + std::string(args ? args : ""));
    return MI_SUCCESS;
}
