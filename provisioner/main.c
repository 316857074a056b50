/*
 * The sparkform command: the built-in providers and the command line.
 */
#include "cli.h"

int main(int argc, char **argv)
{
    return sf_cli_main(argc, argv);
}
