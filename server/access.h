// Who may use the server: the loopback rule (a server on another address needs an API key) and
// the check of `Authorization: Bearer KEY`.
#pragma once

#include "server/openai_request.h"

#include <optional>
#include <string_view>

namespace nw::server {

// "localhost", 127.0.0.0/8 and ::1 (also as [::1]).
bool isLoopbackHost(std::string_view host);

// nullopt when `authorization` (the header's value, "" when absent) carries `key` as a bearer
// token; otherwise the 401 error. The comparison takes the same time wherever the key differs.
std::optional<ApiError> checkAuthorization(std::string_view authorization, std::string_view key);

} // namespace nw::server
