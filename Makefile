# sparkform build. Libraries are found with pkg-config; `make test` runs the
# unit tests (Check) and the end-to-end tests, then both again under
# AddressSanitizer and UndefinedBehaviorSanitizer.

PKGS     := yaml-0.1 jansson libcurl libssh2 libgit2 libcrypto
CC       ?= cc
BUILD    ?= build
SAN      ?=
OPT      ?= -O2 -g
CFLAGS   := $(OPT) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            -pthread $(SAN) $(shell pkg-config --cflags $(PKGS) check)
INCLUDES := -Iprovisioner -Iplans -Iproviders -Istate -Itests/testprov
LDLIBS   := $(shell pkg-config --libs $(PKGS)) -pthread
CHECKLIBS:= $(shell pkg-config --libs check)

ENGINE_SRC := $(filter-out provisioner/main.c,$(wildcard provisioner/*.c)) \
              $(wildcard plans/*.c) $(wildcard state/*.c) \
              $(wildcard providers/*.c) $(wildcard providers/*/*.c)
ENGINE_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(ENGINE_SRC))
TESTPROV_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/testprov/*.c))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all deps test test-unit test-e2e test-asan bench quickstart clean install localcloud
all: $(BUILD)/sparkform $(BUILD)/sparkform-test $(BUILD)/localcloud

deps:
	@scripts/install-deps

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCLUDES) -MMD -MP -c $< -o $@

$(BUILD)/libsparkform.a: $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/sparkform: $(BUILD)/obj/provisioner/main.o $(BUILD)/libsparkform.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The same command with the test provider (tests/testprov) registered.
$(BUILD)/sparkform-test: $(TESTPROV_OBJ) $(BUILD)/libsparkform.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The local cloud emulator: a program of its own, never part of libsparkform;
# it reuses the engine's util and diag helpers and its YAML reader (node.c).
LOCALCLOUD_SRC := $(wildcard localcloud/*.c localcloud/*/*.c)
LOCALCLOUD_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LOCALCLOUD_SRC)) \
                  $(BUILD)/obj/provisioner/util.o $(BUILD)/obj/provisioner/diag.o \
                  $(BUILD)/obj/providers/sigv4.o $(BUILD)/obj/provisioner/node.o
$(BUILD)/obj/localcloud/%.o: CFLAGS += $(shell pkg-config --cflags libmicrohttpd libxml-2.0)

$(BUILD)/localcloud: $(LOCALCLOUD_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(shell pkg-config --libs libmicrohttpd jansson libcrypto libxml-2.0 yaml-0.1) -pthread

localcloud: $(BUILD)/localcloud

# The load generator of localcloud's benchmarks.
$(BUILD)/lcload: tests/bench/lcload.c $(BUILD)/obj/providers/sigv4.o $(BUILD)/obj/provisioner/util.o
	$(CC) $(CFLAGS) $(INCLUDES) -o $@ $^ $(shell pkg-config --libs libcurl libcrypto) -pthread

$(BUILD)/tests/%: tests/unit/%.c $(filter-out $(BUILD)/obj/tests/testprov/main.o,$(TESTPROV_OBJ)) $(BUILD)/libsparkform.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCLUDES) -o $@ $^ $(CHECKLIBS) $(LDLIBS)

# Unit tests of a localcloud module (localcloud/k8s_X.c, which needs only
# the engine's util and diag helpers).
$(BUILD)/tests/test_k8s_%: tests/unit/test_k8s_%.c $(BUILD)/obj/localcloud/k8s_%.o \
                           $(BUILD)/obj/provisioner/util.o $(BUILD)/obj/provisioner/diag.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCLUDES) -Ilocalcloud -o $@ $^ $(CHECKLIBS) $(LDLIBS)

test-unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; CK_FORK=yes $$t; done

test-e2e: all
	@SPARKFORM=$(abspath $(BUILD)/sparkform) SPARKFORM_TEST=$(abspath $(BUILD)/sparkform-test) \
	  LOCALCLOUD=$(abspath $(BUILD)/localcloud) tests/e2e/run

test-asan:
	$(MAKE) BUILD=build/asan SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" OPT="-O1 -g" test-unit test-e2e

test: deps
	$(MAKE) test-unit test-e2e
	$(MAKE) test-asan

bench: all $(BUILD)/lcload
	@SPARKFORM_TEST=$(abspath $(BUILD)/sparkform-test) tests/bench/run
	@LOCALCLOUD=$(abspath $(BUILD)/localcloud) LCLOAD=$(abspath $(BUILD)/lcload) tests/bench/run-localcloud

quickstart: deps all
	@scripts/quickstart

install: $(BUILD)/sparkform
	install -D -m 0755 $(BUILD)/sparkform $(DESTDIR)/usr/local/bin/sparkform

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
