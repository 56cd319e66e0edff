# Fuzzing (included by the top Makefile). how to run and what is checked:
# docs/operations.md, "Fuzzing".
#
#   build/fuzz/fuzz-NAME             libFuzzer + ASan + UBSan (make fuzz)
#   build/tests/unit/fuzz-replay-NAME   the saved corpus once, ASan + UBSan,
#                                       no libFuzzer (make test, unit layer)
#   build/tests/prog/fuzz-packet     the packet fuzzer; without arguments it
#                                       replays its corpus (make test, prog)
#
# The sanitizer builds use clang (its ASan/UBSan/libFuzzer runtimes are in
# libclang-rt-14-dev) and their own object trees, so the normal build is
# untouched.

FUZZ_CC      ?= clang
FUZZ_TIME    ?= 60
FUZZ_HARNESS := stmt batch proto
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
	-Wno-missing-field-initializers -Werror -Iinclude -Iuser/lib -Iuser/xlbd \
	-I$(BUILD) -Itests/lib -Itests/fuzz -D_GNU_SOURCE $(FUZZ_SAN)

# What each harness links besides itself, libxlb and fuzz_common.
FUZZ_EXTRA_proto := user/xlbd/ev.c user/xlbd/persist.c

fuzz_srcs = tests/fuzz/fuzz_$(1).c tests/fuzz/fuzz_common.c $(LIB_SRCS) $(FUZZ_EXTRA_$(1))

FUZZ_BINS   := $(patsubst %,$(BUILD)/fuzz/fuzz-%,$(FUZZ_HARNESS))
REPLAY_BINS := $(patsubst %,$(BUILD)/tests/unit/fuzz-replay-%,$(FUZZ_HARNESS))
PACKET_FUZZ := $(BUILD)/tests/prog/fuzz-packet

all: $(REPLAY_BINS) $(PACKET_FUZZ)

# lf: instrumented for libFuzzer; rp: sanitizers only.
$(BUILD)/fuzz/lf/%.o: %.c | $(BPF_SKELS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/rp/%.o: %.c | $(BPF_SKELS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -c $< -o $@

# The proto harness compiles ctl.c and request.c into itself.
$(BUILD)/fuzz/lf/tests/fuzz/fuzz_proto.o $(BUILD)/fuzz/rp/tests/fuzz/fuzz_proto.o: \
	user/xlbd/ctl.c user/xlbd/request.c

define fuzz_harness
$(BUILD)/fuzz/fuzz-$(1): $(patsubst %.c,$(BUILD)/fuzz/lf/%.o,$(call fuzz_srcs,$(1)))
	$$(call msg,LINK,$$@)
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $$^ -o $$@ $(LDLIBS)

# replay.c is built once per harness: it carries the harness's name.
$(BUILD)/fuzz/rp/replay-$(1).o: tests/fuzz/replay.c
	$$(call msg,FUZZCC,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -DFUZZ_NAME='"$(1)"' \
		-DFUZZ_CORPUS='"tests/fuzz/corpus/$(1)"' -c $$< -o $$@

$(BUILD)/tests/unit/fuzz-replay-$(1): $(BUILD)/fuzz/rp/replay-$(1).o \
		$(patsubst %.c,$(BUILD)/fuzz/rp/%.o,$(call fuzz_srcs,$(1)))
	$$(call msg,LINK,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) $$^ -o $$@ $(LDLIBS)
endef
$(foreach h,$(FUZZ_HARNESS),$(eval $(call fuzz_harness,$(h))))

# Root and BPF: no sanitizers (the program under test is in the kernel).
$(PACKET_FUZZ): $(BUILD)/tests/fuzz/fuzz_packet.o $(TLIB) $(LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Each harness for FUZZ_TIME seconds, one after the other; new inputs that
# add coverage are merged into tests/fuzz/corpus/ (FUZZ_SAVE=0: not).
.PHONY: fuzz
fuzz: deps
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BINS) $(PACKET_FUZZ)
	$(Q)BUILD=$(BUILD) FUZZ_TIME=$(FUZZ_TIME) ./tests/fuzz/run.sh $(FUZZ_HARNESS) packet
