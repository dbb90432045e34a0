// fake_libmilter: just enough of libmilter's smfi_* API for the callbacks to run inside a unit
// test: a context holding the private pointer, the macros the "MTA" sent, the reply set, and the
// envelope changes asked for at end of message.
#pragma once

#include <libmilter/mfapi.h>

#include <map>
#include <string>
#include <vector>

struct smfi_str {
    void* priv = nullptr;
    std::map<std::string, std::string> macros;
    std::string rcode, xcode, message;  // from smfi_setreply
    bool throw_on_getsymval = false;    // to make a callback fail inside
    std::vector<std::string> envelope_changes;  // "delrcpt <a>", "addrcpt <a>", in order
    bool refuse_changes = false;                // smfi_delrcpt/smfi_addrcpt fail
};
