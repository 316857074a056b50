/*
 * The sparkform command line: parses the command and its flags and runs
 * it. main() in provisioner/main.c (and in tests/testprov/main.c, which
 * first registers the test provider) is just a call to this.
 */
#ifndef SF_CLI_H
#define SF_CLI_H

/* Returns the process exit status. */
int sf_cli_main(int argc, char **argv);

#endif
