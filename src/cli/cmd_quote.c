/* cmd_quote — `harde quote [--book FILE] [--text] [REQUEST.json | -]`: prices a
 * request from the price book without any model. The book comes from --book,
 * else HARDE_PRICE_BOOK / [pricing] book, else the shipped sample book. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "harde/quote.h"

int cmd_quote(int argc, char **argv, const struct cli_globals *globals)
{
    const char *book = NULL, *request = NULL;
    unsigned flags = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_wants_help(globals, argv[i])) {
            printf("\nThe request is JSON, e.g.\n"
                   "  {\"roof\": {\"area_sqft\": 2400, \"style\": \"hip\", \"pitch_rise\": 7,\n"
                   "            \"layers\": 1, \"material\": \"architectural\"},\n"
                   "   \"items\": [{\"id\": \"gutters\", \"qty\": 160}], \"permit\": true}\n"
                   "--text prints a table instead of JSON. Exit 2 on a bad request.\n");
            return 0;
        }
        if (strcmp(argv[i], "--book") == 0 && i + 1 < argc)
            book = argv[++i];
        else if (strcmp(argv[i], "--text") == 0)
            flags |= QUOTE_CLI_TEXT;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error(globals, "unknown option");
        else if (!request)
            request = argv[i];
        else
            return cli_usage_error(globals, "give one request file (or - for stdin)");
    }
    if (!book) {
        /* Resolve the configured book the same way every other command does. */
        struct harde_app app;
        if (cli_open_app(&app, globals, 0) != 0)
            return 1;
        int rc = quote_cli_run(strcmp(app.book_path, "(built-in sample book)") == 0 ? NULL
                                                                                    : app.book_path,
                               request, flags, stdin, stdout, stderr);
        harde_app_close(&app);
        return rc;
    }
    return quote_cli_run(book, request, flags, stdin, stdout, stderr);
}
