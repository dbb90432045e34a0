// notices: the delivery status notifications (RFC 3461 DSN) an SMTP client asks for with a
// recipient's NOTIFY= argument. A success or delay notice is mail to the envelope sender, so it is
// judged as a relay (see Policy::notice_decision); this reads the request. Not a DSN parser for
// anything else (ORCPT, RET, ENVID play no part).
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace relaymilter {

// The NOTIFY value among a recipient's ESMTP arguments ("NOTIFY=SUCCESS,FAILURE" gives
// "SUCCESS,FAILURE") when it asks for a success or a delay notice; empty otherwise (no NOTIFY,
// FAILURE alone, NEVER). Keywords in any case, as RFC 3461 allows.
[[nodiscard]] std::string_view success_or_delay_notify(std::span<const std::string_view> esmtp_args);

// The same arguments with NOTIFY= set to FAILURE (the others kept), space-separated as
// smfi_addrcpt_par takes them: no success or delay notice, failure notices as without DSN.
[[nodiscard]] std::string failure_notices_only(std::span<const std::string_view> esmtp_args);

}  // namespace relaymilter
