# layerfs — build, test, demo.
#   make                 build ./layerfs
#   make check           unit (Check) + integration tests
#   make check-slow      tests that need the network (node-app with npm)
#   make SANITIZE=address,undefined check
#   make check-san       the same (ASan + UBSan build in build-san/); CI runs it
#   make check-tsan      ThreadSanitizer build in build-tsan/: the daemon,
#                        store, container and registry tests; any report fails it
#   make demo            import the built-in base image, mount it, look inside
#   make bench           side-by-side benchmark (prints ratios)
#   make base-images     busybox:latest into the store (tools/base-image.sh)
#   make base-debian     debian:bookworm (debootstrap, root) and node:18 from it
#   make deps            install the Debian packages the project needs
#   make fuzz            build the libFuzzer harnesses (clang) and run each for
#                        FUZZ_SECONDS (60) from tests/fuzz/corpus/<name>/
#   make fuzz-short      the same for 10 s each (CI)

CC       ?= cc
comma    := ,
PKGS     := fuse3 libarchive zlib libzstd libcrypto jansson libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

WARN := -Wall -Wextra -Werror=format=2 -Wformat-security -Wshadow \
        -Wmissing-prototypes -Wstrict-prototypes -Wpointer-arith \
        -Wundef -Wvla -Wno-unused-parameter -Wno-missing-field-initializers -Werror=implicit-function-declaration
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread $(WARN) \
           -Ifs -Itools $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -pthread

ifneq ($(SANITIZE),)
# ThreadSanitizer cannot be combined with the others: its own directory.
ifneq ($(filter thread,$(subst $(comma), ,$(SANITIZE))),)
BUILD   ?= build-tsan
endif
BUILD   ?= build-san
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif
BUILD    ?= build
BIN      := $(BUILD)/layerfs

FS_SRC   := $(wildcard fs/*.c)
TOOL_SRC := $(filter-out tools/main.c,$(wildcard tools/*.c))
FS_OBJ   := $(FS_SRC:%.c=$(BUILD)/%.o)
TOOL_OBJ := $(TOOL_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/check_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HDRS     := $(wildcard fs/*.h tools/*.h tests/unit/*.h)

all: $(BIN)

# ./layerfs is the normal build; sanitizer builds stay in their own directory.
ifeq ($(BIN),build/layerfs)
all: layerfs
layerfs: $(BIN)
	@ln -sf $(BIN) layerfs
endif

$(BUILD)/%.o: %.c $(HDRS) | deps-check
	@mkdir -p $(dir $@)
	@echo '  CC      $<'
	@$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/liblayerfs-fs.a: $(FS_OBJ)
	@$(AR) rcs $@ $^
$(BUILD)/liblayerfs-tools.a: $(TOOL_OBJ)
	@$(AR) rcs $@ $^

LIBS := $(BUILD)/liblayerfs-tools.a $(BUILD)/liblayerfs-fs.a

$(BIN): $(BUILD)/tools/main.o $(LIBS)
	@echo '  LD      $@'
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/check_%: tests/unit/check_%.c $(HDRS) $(LIBS)
	@mkdir -p $(dir $@)
	@echo '  CCLD    $@'
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS) $(CHECK_LIBS)

unit: $(UNIT_BIN)

# libFuzzer harnesses.  They link the same archives, built by clang with
# -fsanitize=fuzzer-no-link,address,undefined in $(FUZZ_BUILD): `make fuzz`
# runs a sub-make with BUILD/CC/SANITIZE/CFLAGS set for it, which builds
# the fuzz-bins target there; then each harness runs for FUZZ_SECONDS from
# a scratch copy of its seed corpus (the committed seeds are never changed).
# A crash, leak or timeout fails the run and its input is kept under
# $(FUZZ_BUILD)/crashes/<name>/.
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
# A fixed libFuzzer seed makes a run repeat the same inputs (fuzz-short in
# CI: a change is judged by its own effect, not by what a random walk hits
# that day); empty, `make fuzz` explores from a new random seed each time.
FUZZ_SEED    ?=
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(HDRS) $(LIBS)
	@mkdir -p $(dir $@)
	@echo '  CCLD    $@'
	@$(CC) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

fuzz-bins: $(FUZZ_BIN)

fuzz-build:
	@CFLAGS='-g -O1' $(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) \
		SANITIZE=fuzzer-no-link,address,undefined fuzz-bins

# One target per harness, so that make -j runs them side by side.
FUZZ_RUNS := $(FUZZ_NAMES:%=fuzz-run-%)
$(FUZZ_RUNS): fuzz-run-%: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_BUILD) $* $(FUZZ_SECONDS) $(FUZZ_SEED)

fuzz: $(FUZZ_RUNS)

fuzz-short:
	@$(MAKE) --no-print-directory FUZZ_SECONDS=10 FUZZ_SEED=1 fuzz

# Stand-alone test programs run by the integration scripts (they find them
# beside the layerfs binary, in $(BUILD)/tests/).
TEST_PROGS := $(BUILD)/tests/posix_check $(BUILD)/tests/random_ops $(BUILD)/tests/stress
$(BUILD)/tests/posix_check: $(wildcard tests/posix/*.c)
	@mkdir -p $(dir $@)
	@echo '  CCLD    $@'
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^)
$(BUILD)/tests/random_ops: $(wildcard tests/random_ops/*.c)
	@mkdir -p $(dir $@)
	@echo '  CCLD    $@'
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^)

$(BUILD)/tests/stress: $(wildcard tests/stress/*.c)
	@mkdir -p $(dir $@)
	@echo '  CCLD    $@'
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^)

# deps-check fails early with the exact install command when a library is missing.
deps-check:
	@tools/install-deps.sh --check

deps:
	tools/install-deps.sh

# Sanitizer runs: leaks in third-party libraries are listed in tests/lsan.supp.
export LSAN_OPTIONS := suppressions=$(abspath tests/lsan.supp):print_suppressions=0

# ThreadSanitizer runs: every instrumented process (the mount daemons run
# detached, their stderr is /dev/null) writes its reports to
# $(BUILD)/tsan/report.PID; any report fails the check.
ifneq ($(filter thread,$(subst $(comma), ,$(SANITIZE))),)
TSAN_LOG := $(abspath $(BUILD))/tsan
export TSAN_OPTIONS := log_path=$(TSAN_LOG)/report:second_deadlock_stack=1
endif

CHECK_UNITS   ?= $(UNIT_BIN)
CHECK_SCRIPTS ?= tests/integration/*.sh

check: $(BIN) $(UNIT_BIN) $(TEST_PROGS)
ifeq ($(TSAN_LOG),)
	@LAYERFS=$(abspath $(BIN)) tests/run.sh $(CHECK_UNITS) -- $(CHECK_SCRIPTS)
else
	@rm -rf $(TSAN_LOG) && mkdir -p $(TSAN_LOG)
	@LAYERFS=$(abspath $(BIN)) tests/run.sh $(CHECK_UNITS) -- $(CHECK_SCRIPTS); rc=$$?; \
	if ls $(TSAN_LOG)/report.* >/dev/null 2>&1; then \
		echo "ThreadSanitizer reports ($(TSAN_LOG)):"; cat $(TSAN_LOG)/report.*; exit 1; \
	fi; exit $$rc
endif

# The FUSE daemon, the store and containers run as root under
# ThreadSanitizer.  Left out: what needs a user namespace (rootless runs
# and builds: TSan's background thread makes every process multithreaded,
# and unshare(CLONE_NEWUSER) refuses those with EINVAL), and check_ctr,
# which calls ctr_run from a second thread of its own.
TSAN_SCRIPTS := $(wildcard tests/integration/mount_*.sh tests/integration/fuse_*.sh \
	tests/integration/store_*.sh tests/integration/random_ops.sh \
	tests/integration/union_scenarios.sh tests/integration/posix_conformance.sh \
	tests/integration/registry_pull_push.sh tests/integration/images_save_load.sh \
	tests/integration/inspect_*.sh tests/integration/concurrency.sh)
TSAN_UNITS = $(filter-out %/check_ctr,$(UNIT_BIN))
check-tsan:
	@$(MAKE) --no-print-directory SANITIZE=thread CHECK_SCRIPTS='$(TSAN_SCRIPTS)' \
		CHECK_UNITS='$(TSAN_UNITS:build/%=build-tsan/%)' check

# The whole suite again on the ASan + UBSan build (build-san/): what CI runs
# after the normal build's make check.
check-san:
	@$(MAKE) --no-print-directory SANITIZE=address,undefined check

# Tests that need the network and minutes (debootstrap, apt, npm).
check-slow: $(BIN)
	@LAYERFS=$(abspath $(BIN)) tests/run.sh -- tests/slow/*.sh

demo: $(BIN)
	@LAYERFS=$(abspath $(BIN)) tests/demo.sh

bench: $(BIN)
	@LAYERFS=$(abspath $(BIN)) tests/bench/run.sh
	@LAYERFS=$(abspath $(BIN)) tests/bench/write.sh
	@LAYERFS=$(abspath $(BIN)) tests/bench/build.sh
	@LAYERFS=$(abspath $(BIN)) tests/bench/containers.sh
	@LAYERFS=$(abspath $(BIN)) tests/bench/compressed.sh

base-images: $(BIN)
	@LAYERFS=$(abspath $(BIN)) tools/base-image.sh busybox

base-debian: $(BIN)
	@LAYERFS=$(abspath $(BIN)) tools/base-image.sh debian
	@LAYERFS=$(abspath $(BIN)) tools/base-image.sh node

# Installs layerfs and mount.fuse.layerfs, so that `mount -t fuse.layerfs`
# and podman/buildah (mount_program = layerfs) can call it.
PREFIX ?= /usr/local
install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/layerfs
	install -d $(DESTDIR)$(PREFIX)/sbin
	ln -sf ../bin/layerfs $(DESTDIR)$(PREFIX)/sbin/mount.fuse.layerfs

format:
	clang-format -i fs/*.[ch] tools/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c

clean:
	rm -rf build build-san build-tsan $(FUZZ_BUILD) layerfs

ifeq ($(BIN),build/layerfs)
.PHONY: layerfs
endif
.PHONY: all unit fuzz fuzz-short fuzz-build fuzz-bins $(FUZZ_RUNS) check check-san check-tsan check-slow demo bench deps deps-check format clean install base-images base-debian
