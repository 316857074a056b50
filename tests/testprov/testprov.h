/*
 * The test-only provider: one resource type, test_resource, whose objects
 * are JSON files in the directory named by SPARKFORM_TEST_STORE. Engine
 * tests and benchmarks use it to script latency, failures, drift (edit a
 * file) and crashes (SPARKFORM_TEST_CRASH_AFTER_CREATE=<address> makes the
 * process exit right after that object's file is written).
 * Registered by tests/testprov/main.c in the sparkform-test binary.
 */
#ifndef SF_TESTPROV_H
#define SF_TESTPROV_H

#include "provider.h"

extern const struct sf_provider sf_provider_test;

#endif
