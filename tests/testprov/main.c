/*
 * sparkform-test: the sparkform command with the test provider registered,
 * for the end-to-end tests and benchmarks.
 */
#include <stdio.h>

#include "cli.h"
#include "testprov.h"

int main(int argc, char **argv)
{
    if (sf_provider_register(&sf_provider_test) < 0) {
        fputs("sparkform-test: cannot register the test provider\n", stderr);
        return 1;
    }
    return sf_cli_main(argc, argv);
}
