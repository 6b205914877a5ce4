// The loopback rule and the bearer-token check (see access.h).
#include "server/access.h"

#include "common/assert.h"

#include <arpa/inet.h>

#include <string>

namespace nw::server {

bool isLoopbackHost(std::string_view host)
{
    if (host == "localhost" || host == "::1" || host == "[::1]")
        return true;
    in_addr address {};
    const std::string text(host);
    return inet_pton(AF_INET, text.c_str(), &address) == 1 && (ntohl(address.s_addr) >> 24) == 127;
}

std::optional<ApiError> checkAuthorization(std::string_view authorization, std::string_view key)
{
    NW_ASSERT(!key.empty());
    constexpr std::string_view scheme = "Bearer ";
    const ApiError refused { .status = 401,
        .message = "this server needs an API key: send the header 'Authorization: Bearer KEY'",
        .code = "invalid_api_key" };
    if (authorization.substr(0, scheme.size()) != scheme)
        return refused;
    const std::string_view given = authorization.substr(scheme.size());
    unsigned char differ = given.size() == key.size() ? 0 : 1;
    for (std::size_t i = 0; i < given.size(); ++i)
        differ |= static_cast<unsigned char>(given[i] ^ key[i % key.size()]);
    if (differ != 0)
        return refused;
    return std::nullopt;
}

} // namespace nw::server
