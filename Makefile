# sparkform build. Libraries are found with pkg-config; `make test` runs the
# unit tests (Check) and the end-to-end tests, then both again under
# AddressSanitizer and UndefinedBehaviorSanitizer.
#
# Every goal runs in two passes. The first pass only installs what is
# missing (scripts/install-deps) and then runs make again for the goal; the
# second pass, with SF_DEPS_DONE set, is the real build. pkg-config runs when
# make reads this file, so on a machine without the -dev packages a single
# pass would link without -lyaml, -ljansson, ...: the second pass reads it
# only after the packages are there.

INSTALL_DEPS ?= scripts/install-deps

ifeq ($(SF_DEPS_DONE),)

.DEFAULT_GOAL := all
.PHONY: deps clean
deps:
	@$(INSTALL_DEPS)
clean:
	rm -rf build
Makefile: ;
%: deps
	@$(MAKE) --no-print-directory SF_DEPS_DONE=1 $@

else

PKGS     := yaml-0.1 jansson libcurl libssh2 libgit2 libcrypto libxml-2.0 libxcrypt
CC       ?= cc
BUILD    ?= build
SAN      ?=
OPT      ?= -O2 -g
CFLAGS   := $(OPT) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            -pthread $(SAN) $(shell pkg-config --cflags $(PKGS) check)
INCLUDES := -Ilib -Imodules -Iprovisioner -Iplans -Iproviders -Istate -Itests/testprov
LDLIBS   := $(shell pkg-config --libs $(PKGS)) -pthread -lm
CHECKLIBS:= $(shell pkg-config --libs check)

# lib/: the basics every program here links (util, diagnostics, values, the
# YAML reader, SigV4, the HTTP client).
BASE_OBJ   := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard lib/*.c))
BASE_LIB   := $(BUILD)/libsfbase.a
ENGINE_SRC := $(filter-out provisioner/main.c,$(wildcard provisioner/*.c)) $(wildcard modules/*.c) \
              $(wildcard plans/*.c) $(wildcard state/*.c) \
              $(wildcard providers/*.c) $(wildcard providers/*/*.c)
ENGINE_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(ENGINE_SRC)) $(BUILD)/obj/gen/builtin_modules.o
# The built-in modules (modules/NAME/*.yaml) are compiled into the binary.
BUILTIN_YAML := $(sort $(wildcard modules/*/*.yaml))
ENGINE_LIB := $(BUILD)/libsparkform.a
TESTPROV_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/testprov/*.c))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all test test-unit test-e2e test-asan bench quickstart quickstart-down install localcloud \
        show-flags
all: $(BUILD)/sparkform $(BUILD)/sparkform-test $(BUILD)/localcloud

# What the second pass links with (tests/e2e/make_first_run.sh reads it).
show-flags:
	@echo "LDLIBS=$(LDLIBS)"

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCLUDES) -MMD -MP -c $< -o $@

$(BASE_LIB): $(BASE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/gen/builtin_modules.c: $(BUILTIN_YAML) scripts/embed-modules
	@mkdir -p $(dir $@)
	scripts/embed-modules $(BUILTIN_YAML) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/builtin_modules.o: $(BUILD)/gen/builtin_modules.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@

$(ENGINE_LIB): $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/sparkform: $(BUILD)/obj/provisioner/main.o $(ENGINE_LIB) $(BASE_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The same command with the test provider (tests/testprov) registered.
$(BUILD)/sparkform-test: $(TESTPROV_OBJ) $(ENGINE_LIB) $(BASE_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The local cloud emulator: a program of its own, never part of the engine;
# it links lib/ like every program here.
LOCALCLOUD_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard localcloud/*.c))
LOCALCLOUD_LIBS = $(shell pkg-config --libs libmicrohttpd jansson libcrypto libxml-2.0 yaml-0.1)
$(BUILD)/obj/localcloud/%.o: CFLAGS += $(shell pkg-config --cflags libmicrohttpd libxml-2.0)

$(BUILD)/localcloud: $(LOCALCLOUD_OBJ) $(BASE_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LOCALCLOUD_LIBS) -pthread

localcloud: $(BUILD)/localcloud

# The load generator of localcloud's benchmarks.
$(BUILD)/lcload: tests/bench/lcload.c $(BASE_LIB)
	$(CC) $(CFLAGS) $(INCLUDES) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(filter-out $(BUILD)/obj/tests/testprov/main.o,$(TESTPROV_OBJ)) \
                  $(ENGINE_LIB) $(BASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCLUDES) -o $@ $^ $(CHECKLIBS) $(LDLIBS)

# Unit tests of a localcloud module (localcloud/k8s_X.c, which needs only lib/).
$(BUILD)/tests/test_k8s_%: tests/unit/test_k8s_%.c $(BUILD)/obj/localcloud/k8s_%.o $(BASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCLUDES) -Ilocalcloud -o $@ $^ $(CHECKLIBS) $(LDLIBS)

# RBAC's tests: k8s_rbac.c reads the store and answers requests, so they
# link localcloud's objects (all but its main).
$(BUILD)/tests/test_k8s_rbac: tests/unit/test_k8s_rbac.c \
                              $(filter-out $(BUILD)/obj/localcloud/main.o,$(LOCALCLOUD_OBJ)) $(BASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags libmicrohttpd) $(INCLUDES) -Ilocalcloud -o $@ $^ \
	  $(CHECKLIBS) $(LDLIBS) $(LOCALCLOUD_LIBS)

# The HTTP client's tests run a libmicrohttpd server inside the test and
# need only lib/.
$(BUILD)/tests/test_http: tests/unit/test_http.c $(BASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags libmicrohttpd) $(INCLUDES) -o $@ $^ $(CHECKLIBS) \
	  $(LDLIBS) $(shell pkg-config --libs libmicrohttpd)

# Schedules (lib/cron.c) need only lib/.
$(BUILD)/tests/test_cron: tests/unit/test_cron.c $(BASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCLUDES) -o $@ $^ $(CHECKLIBS) $(LDLIBS)

# The cloud provider's unit tests talk to a localcloud they start; so do
# the S3 state's (tests/unit/lcproc.c starts and stops it).
$(BUILD)/tests/test_cloud: $(BUILD)/obj/tests/unit/lcproc.o | $(BUILD)/localcloud
$(BUILD)/tests/test_state_s3: $(BUILD)/obj/tests/unit/lcproc.o | $(BUILD)/localcloud

test-unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; CK_FORK=yes $$t; done

# Test peers from npm (s3rver, an S3 server sparkform did not write), pinned
# by tests/peers/package-lock.json.
PEERS := $(BUILD)/peers/node_modules/.bin/s3rver
$(PEERS): tests/peers/package.json tests/peers/package-lock.json
	@mkdir -p $(BUILD)/peers
	cp tests/peers/package.json tests/peers/package-lock.json $(BUILD)/peers/
	cd $(BUILD)/peers && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test-e2e: all $(PEERS)
	@S3RVER=$(abspath $(PEERS)) SPARKFORM=$(abspath $(BUILD)/sparkform) SPARKFORM_TEST=$(abspath $(BUILD)/sparkform-test) \
	  LOCALCLOUD=$(abspath $(BUILD)/localcloud) tests/e2e/run

# Leaks of the libraries sparkform links (tests/lsan.supp says which) are
# not sparkform's.
test-asan:
	LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp) $(MAKE) BUILD=build/asan SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" OPT="-O1 -g" test-unit test-e2e

test:
	$(MAKE) test-unit test-e2e
	$(MAKE) test-asan

bench: all $(BUILD)/lcload
	@SPARKFORM_TEST=$(abspath $(BUILD)/sparkform-test) tests/bench/run
	@LOCALCLOUD=$(abspath $(BUILD)/localcloud) LCLOAD=$(abspath $(BUILD)/lcload) tests/bench/run-localcloud
	@SPARKFORM=$(abspath $(BUILD)/sparkform) LOCALCLOUD=$(abspath $(BUILD)/localcloud) tests/bench/run-cloud
	@SPARKFORM=$(abspath $(BUILD)/sparkform) LOCALCLOUD=$(abspath $(BUILD)/localcloud) tests/bench/run-k8s

quickstart: all
	@scripts/quickstart

quickstart-down:
	@scripts/quickstart-down

install: $(BUILD)/sparkform
	install -D -m 0755 $(BUILD)/sparkform $(DESTDIR)/usr/local/bin/sparkform

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

endif
