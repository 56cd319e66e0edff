# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The version, the man pages, make install / uninstall and make deb.
# Included by the Makefile after its `all` rule.
#
#   make install [DESTDIR=...] [PREFIX=/usr/local] [SBINDIR=...] ...
#
# Every directory below may be set on the command line. SYSCONFDIR is /etc
# whatever the prefix: xlbd's default config is /etc/xlb/xlb.conf. UNITDIR
# and COMPLETIONDIR are where systemd and bash-completion look for the
# prefix (both search /usr/local too). The BPF programs are embedded in the
# binaries (libbpf skeletons): there is no object file to install.

PREFIX        ?= /usr/local
SBINDIR       ?= $(PREFIX)/sbin
DATADIR       ?= $(PREFIX)/share
MANDIR        ?= $(DATADIR)/man
DOCDIR        ?= $(DATADIR)/doc/xlb
SYSCONFDIR    ?= /etc
UNITDIR       ?= $(PREFIX)/lib/systemd/system
COMPLETIONDIR ?= $(DATADIR)/bash-completion/completions
INSTALL       ?= install

# ---- version -----------------------------------------------------------------
# Only the objects that print it depend on it: $(BUILD)/version changes only
# when the version does, so a new commit relinks three binaries, not more.

XLB_VERSION ?= $(shell packaging/version.sh)
# Once, not at every use.
XLB_VERSION := $(XLB_VERSION)
VERSION_OBJS := $(foreach d,xlbd xlbctl xlb-backend,$(BUILD)/user/$(d)/main.o)

$(VERSION_OBJS): CFLAGS += -DXLB_VERSION='"$(XLB_VERSION)"'
$(VERSION_OBJS): $(BUILD)/version

$(BUILD)/version: FORCE
	$(Q)mkdir -p $(@D)
	$(Q)echo '$(XLB_VERSION)' | cmp -s - $@ || echo '$(XLB_VERSION)' >$@

.PHONY: FORCE
FORCE:

# ---- man pages: docs/man/NAME.SECTION.scd -> build/man/NAME.SECTION -----------

MAN_SRCS := $(wildcard docs/man/*.scd)
MANS     := $(patsubst docs/man/%.scd,$(BUILD)/man/%,$(MAN_SRCS))

all: $(MANS)
man: $(MANS)

# The keyword lists in the pages come from xlbctl's own tables (@WORDS:...@,
# @BOLD:...@, @LIST:...@: packaging/man-keywords.awk).
$(BUILD)/keywords.tsv: $(BUILD)/xlbctl
	$(call msg,GEN,$@)
	$(Q)$(BUILD)/xlbctl --keywords >$@.tmp && mv $@.tmp $@

$(BUILD)/man/%: docs/man/%.scd $(BUILD)/version $(BUILD)/keywords.tsv packaging/man-keywords.awk
	$(call msg,SCDOC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)sed 's/@VERSION@/$(XLB_VERSION)/' $< | \
		awk -f packaging/man-keywords.awk $(BUILD)/keywords.tsv - | scdoc >$@.tmp && mv $@.tmp $@

# ---- install / uninstall ----------------------------------------------------

INSTALL_BINS := xlbd xlbctl xlb-backend
INSTALL_DOCS := README.md docs/operations.md docs/datapath.md docs/modes.md
# Operator-edited files: installed only where none exists, removed only
# while unchanged.
INSTALL_CONF := packaging/xlb.conf:$(SYSCONFDIR)/xlb/xlb.conf \
	packaging/xlbd.default:$(SYSCONFDIR)/default/xlbd

# Everything `make install` needs built; debian/rules builds just this.
installables: $(addprefix $(BUILD)/,$(INSTALL_BINS)) $(MANS)

install: installables
	$(Q)$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(COMPLETIONDIR) $(DESTDIR)$(SYSCONFDIR)/xlb $(DESTDIR)$(SYSCONFDIR)/default
	$(Q)$(INSTALL) -m 0755 $(addprefix $(BUILD)/,$(INSTALL_BINS)) $(DESTDIR)$(SBINDIR)/
	$(Q)$(INSTALL) -m 0644 $(filter %.5,$(MANS)) $(DESTDIR)$(MANDIR)/man5/
	$(Q)$(INSTALL) -m 0644 $(filter %.8,$(MANS)) $(DESTDIR)$(MANDIR)/man8/
	$(Q)$(INSTALL) -m 0644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/
	$(Q)$(INSTALL) -m 0644 packaging/xlbctl.bash-completion $(DESTDIR)$(COMPLETIONDIR)/xlbctl
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		-e 's|@DOCDIR@|$(DOCDIR)|g' packaging/xlbd.service.in >$(DESTDIR)$(UNITDIR)/xlbd.service
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/xlbd.service
	$(Q)for c in $(INSTALL_CONF); do \
		[ -e "$(DESTDIR)$${c#*:}" ] || $(INSTALL) -m 0644 "$${c%%:*}" "$(DESTDIR)$${c#*:}"; \
	done

uninstall:
	$(Q)rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(INSTALL_BINS)) \
		$(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(filter %.5,$(MANS)))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(filter %.8,$(MANS)))) \
		$(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(INSTALL_DOCS))) \
		$(DESTDIR)$(COMPLETIONDIR)/xlbctl $(DESTDIR)$(UNITDIR)/xlbd.service
	$(Q)for c in $(INSTALL_CONF); do \
		! cmp -s "$${c%%:*}" "$(DESTDIR)$${c#*:}" || rm -f "$(DESTDIR)$${c#*:}"; \
		[ ! -e "$(DESTDIR)$${c#*:}" ] || echo "uninstall: kept $(DESTDIR)$${c#*:} (changed since install)"; \
	done
	$(Q)rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true
	$(Q)rmdir $(DESTDIR)$(SYSCONFDIR)/xlb 2>/dev/null || true

# ---- make deb: build/xlb_VERSION_ARCH.deb ----------------------------------------

deb:
	$(Q)packaging/deb.sh $(BUILD) $(XLB_VERSION)

.PHONY: man install uninstall installables deb
