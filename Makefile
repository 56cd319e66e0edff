# xlb build. `make` builds everything into build/; `make test` runs every
# test layer; `make deps` installs the Debian packages; V=1 shows commands.
# `make install` (DESTDIR, PREFIX, ...) and `make deb`: packaging/install.mk.

BUILD    ?= build
CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= cc
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# clang -target bpf does not search the host's multiarch include dirs, so
# <asm/types.h> is missing unless we pass them on (libbpf-bootstrap's trick).
CLANG_BPF_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
	-Wall -Wextra -Wno-unused-parameter -Werror -Iinclude -Ibpf $(CLANG_BPF_SYS_INCLUDES)
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	-Werror -Iinclude -Iuser/lib -I$(BUILD) -Itests/lib -D_GNU_SOURCE
LDLIBS   := -lbpf -lelf -lz -lm -lmnl

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

LIB_SRCS   := $(wildcard user/lib/*.c)
LIB_OBJS   := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
LIB        := $(BUILD)/libxlb.a
TLIB_SRCS  := $(wildcard tests/lib/*.c)
TLIB_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(TLIB_SRCS))
TLIB       := $(BUILD)/libxlbtest.a
# Header dependencies come from the compiler (-MMD: one .d beside each
# object, -MP: a header that is deleted does not break the build).
DEPFLAGS   := -MMD -MP

XLBD_SRCS  := $(wildcard user/xlbd/*.c)
XLBCTL_SRCS:= $(wildcard user/xlbctl/*.c)
BACKEND_SRCS:= $(wildcard user/xlb-backend/*.c)
BINS       := $(if $(XLBD_SRCS),$(BUILD)/xlbd) $(if $(XLBCTL_SRCS),$(BUILD)/xlbctl) \
	$(if $(BACKEND_SRCS),$(BUILD)/xlb-backend)
TOOL_BINS  := $(patsubst tools/%.c,$(BUILD)/tools/%,$(wildcard tools/*.c))
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/*.c))
PROG_BINS  := $(patsubst tests/prog/%.c,$(BUILD)/tests/prog/%,$(wildcard tests/prog/*.c))

.PHONY: all test test-unit test-prog test-e2e deps demo bench bench-prog bench-fwd bench-conn bench-ctl bench-health bench-metrics bench-scaleout clean
.DELETE_ON_ERROR:
.SECONDARY: $(BPF_OBJS) $(BPF_SKELS)

all: $(BPF_OBJS) $(BPF_SKELS) $(LIB) $(BINS) $(TOOL_BINS) $(UNIT_BINS) $(PROG_BINS)

# make install | uninstall | deb | man, and the version the binaries print.
include packaging/install.mk

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# A user object may include a skeleton, which is generated: before the first
# compile no .d names it, so every skeleton is built first (order only; the
# .d then records which skeleton each object really includes).
$(BUILD)/%.o: %.c | $(BPF_SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)mkdir -p $(@D) && rm -f $@ && ar rcs $@ $^

$(TLIB): $(TLIB_OBJS)
	$(call msg,AR,$@)
	$(Q)mkdir -p $(@D) && rm -f $@ && ar rcs $@ $^

$(BUILD)/xlbd: $(patsubst %.c,$(BUILD)/%.o,$(XLBD_SRCS)) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lmicrohttpd

$(BUILD)/xlbctl: $(patsubst %.c,$(BUILD)/%.o,$(XLBCTL_SRCS)) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/xlb-backend: $(patsubst %.c,$(BUILD)/%.o,$(BACKEND_SRCS)) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# The tools share the namespace helpers of tests/lib (sysutil).
$(BUILD)/tools/%: $(BUILD)/tools/%.o $(TLIB) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(TLIB) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# The state file's code is xlbd's; its test links it directly (ahead of
# libxlb, which it calls).
$(BUILD)/tests/unit/test_persist: $(BUILD)/tests/unit/test_persist.o \
		$(BUILD)/user/xlbd/persist.o $(TLIB) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/prog/%: $(BUILD)/tests/prog/%.o $(TLIB) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

deps:
	$(Q)./tools/deps.sh

# The README's first command: a lab in namespaces with real traffic.
demo:
	$(Q)./tools/demo.sh

# The README's test command: packages first, then a sub-make, so the
# Makefile is read again once clang exists (CLANG_BPF_SYS_INCLUDES is
# computed when it is parsed). tests/run.sh prints "N passed, N failed".
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./tests/run.sh all

test-unit: all
	$(Q)./tests/run.sh unit

test-prog: all
	$(Q)./tests/run.sh prog

test-e2e: all
	$(Q)./tests/run.sh e2e

# Benchmarks (never part of make test): tools/bench/run.sh writes
# docs/benchmarks.md and its charts.
bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./tools/bench/run.sh all

bench-prog bench-fwd bench-conn bench-ctl bench-health bench-metrics bench-scaleout: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./tools/bench/run.sh $(patsubst bench-%,%,$@)

# Fuzz harnesses and their corpus replays (make fuzz; replays in make test).
include tests/fuzz/fuzz.mk

clean:
	rm -rf $(BUILD)

# The compiler-written dependency files of every object built so far.
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
