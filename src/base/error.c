/* error — messages for the ERR_* table. See error.h. */
#include "base/error.h"

const char *err_message(int code)
{
    switch (code) {
    case 0:
        return "success";
#define ERR_CASE(name, value, text)                                                                \
    case value:                                                                                    \
        return text;
        ERR_TABLE(ERR_CASE)
#undef ERR_CASE
    }
    return "unknown error";
}

const char *err_name(int code)
{
    switch (code) {
    case 0:
        return "OK";
#define ERR_CASE(name, value, text)                                                                \
    case value:                                                                                    \
        return #name;
        ERR_TABLE(ERR_CASE)
#undef ERR_CASE
    }
    return "UNKNOWN";
}
