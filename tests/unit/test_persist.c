// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The state file (user/xlbd/persist.c): its frame (version line, counting
 * end line) refuses every file that is not whole, an old-format file is
 * read only when whole, and the rules for the directories that hold the
 * state file and the control socket: root's, writable by no one else, no
 * link planted there written through. Needs root (chown to another user).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../user/xlbd/persist.h"
#include "testlib.h"

#define NOBODY 65534

static char err[2048];
static char root[] = "/tmp/xlb-test-persist.XXXXXX";

static const char *CONF = "vip add tcp/198.18.1.10:80 sched wrr\n"
			  "backend add tcp/198.18.1.10:80 198.18.3.2 weight 2\n"
			  "backend add tcp/198.18.1.10:80 198.18.4.2:8080\n"
			  "check set tcp/198.18.1.10:80 tcp interval 3s\n";

static char *path_in(const char *name)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", root, name);
	return buf[i];
}

static bool put_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "we");

	if (!ASSERT_NOT_NULL(f, path))
		return false;
	fwrite(text, 1, len, f);
	return ASSERT_EQ(fclose(f), 0, "fclose");
}

static char *get_file(const char *path, size_t *len)
{
	char *text = NULL;

	if (persist_read(path, &text, len, err, sizeof(err)))
		return NULL;
	return text;
}

/* A state file as xlbd writes it for CONF, in *text. */
static bool written(const char *path, char **text, size_t *len)
{
	struct xlb_cfg c;
	bool ok;

	xlb_cfg_init(&c);
	ok = ASSERT_OK(xlb_cfg_exec_text(&c, CONF, strlen(CONF), "conf", NULL), xlb_errmsg()) &&
	     ASSERT_OK(persist_write(path, &c, err, sizeof(err)), err);
	xlb_cfg_free(&c);
	if (ok) {
		*text = get_file(path, len);
		ok = ASSERT_NOT_NULL(*text, err);
	}
	return ok;
}

static int load(const char *path, struct persist_body *b)
{
	struct xlb_cfg c;
	int rc;

	xlb_cfg_init(&c);
	rc = persist_load(path, &c, b, err, sizeof(err));
	xlb_cfg_free(&c);
	return rc;
}

/* ---- the frame ------------------------------------------------------------ */

static void test_round_trip(void)
{
	struct persist_body b;
	char *text;
	size_t len;

	if (!written(path_in("rt"), &text, &len))
		return;
	ASSERT_TRUE(!strncmp(text, "# xlb-state 1\n", 14), "first line: %.20s", text);
	ASSERT_TRUE(len > 20 && !strcmp(text + len - 19, "\n# xlb-state end 4\n"),
		    "last line: %s", text + len - 19);
	ASSERT_OK(load(path_in("rt"), &b), err);
	ASSERT_EQ(b.n_stmts, 4, "statements");
	ASSERT_FALSE(b.legacy, "legacy");
	free(text);
}

/* Every proper prefix of a whole file (a write cut anywhere) is refused. */
static void test_every_prefix_refused(void)
{
	struct persist_body b;
	char *text;
	size_t len, k, accepted = 0;
	int rc;

	if (!written(path_in("full"), &text, &len))
		return;
	for (k = 0; k < len; k++) {
		if (!put_file(path_in("cut"), text, k))
			break;
		rc = load(path_in("cut"), &b);
		if (rc != -EBADMSG) {
			accepted++;
			TEST_FAIL("a file cut at byte %zu of %zu: rc %d (%s)", k, len, rc, err);
		}
	}
	ASSERT_EQ(accepted, 0, "prefixes not refused as damaged");
	test_log("%zu prefixes of a %zu-byte file, all refused", len, len);
	free(text);
}

static void test_empty_named(void)
{
	struct persist_body b;

	if (!put_file(path_in("empty"), "", 0))
		return;
	ASSERT_EQ(load(path_in("empty"), &b), -EBADMSG, "empty file");
	ASSERT_TRUE(strstr(err, "is empty (0 bytes)") != NULL, "message: %s", err);
}

/* A statement line gone from the middle: the end line's count says so. */
static void test_missing_line(void)
{
	struct persist_body b;
	char *text, *line;
	size_t len;

	if (!written(path_in("mid"), &text, &len))
		return;
	line = strstr(text, "backend add");
	if (!ASSERT_NOT_NULL(line, "a backend line")) {
		free(text);
		return;
	}
	memmove(line, strchr(line, '\n') + 1, strlen(strchr(line, '\n') + 1) + 1);
	if (put_file(path_in("mid"), text, strlen(text))) {
		ASSERT_EQ(load(path_in("mid"), &b), -EBADMSG, "a line missing");
		ASSERT_TRUE(strstr(err, "3 statements where its end line says 4") != NULL,
			    "message: %s", err);
	}
	free(text);
}

static void test_foreign_and_newer(void)
{
	const char *newer = "# xlb-state 2\nvip add tcp/198.18.1.10:80\n# xlb-state end 1\n";
	struct persist_body b;

	if (put_file(path_in("foreign"), CONF, strlen(CONF))) {
		ASSERT_EQ(load(path_in("foreign"), &b), -EBADMSG, "no header");
		ASSERT_TRUE(strstr(err, "not written by xlbd") != NULL, "message: %s", err);
	}
	if (put_file(path_in("newer"), newer, strlen(newer))) {
		ASSERT_EQ(load(path_in("newer"), &b), -EBADMSG, "format 2");
		ASSERT_TRUE(strstr(err, "newer xlbd") != NULL, "message: %s", err);
	}
}

/* What xlbd wrote before the version line: read when whole, not when cut. */
static void test_legacy(void)
{
	char text[2048];
	struct persist_body b;
	int n;

	n = snprintf(text, sizeof(text),
		     "# xlb running configuration, rewritten by xlbd after every change.\n"
		     "# xlbd applies this file at start and then ignores -c; remove it\n"
		     "# (with xlbd stopped) to start again from the -c file.\n%s", CONF);
	if (put_file(path_in("legacy"), text, n)) {
		ASSERT_OK(load(path_in("legacy"), &b), err);
		ASSERT_TRUE(b.legacy, "legacy");
		ASSERT_EQ(b.n_stmts, 4, "statements");
	}
	/* Cut in "198.18.4.2:8080": it would parse as port 80. */
	if (put_file(path_in("legacy_cut"), text, strstr(text, ":8080") + 3 - text)) {
		ASSERT_EQ(load(path_in("legacy_cut"), &b), -EBADMSG, "legacy cut mid-token");
		ASSERT_TRUE(strstr(err, "cut short") != NULL, "message: %s", err);
	}
}

/* A NUL anywhere: not a file xlbd wrote. */
static void test_nul(void)
{
	struct persist_body b;
	char *text;
	size_t len;

	if (!written(path_in("nul"), &text, &len))
		return;
	text[len / 2] = '\0';
	if (put_file(path_in("nul"), text, len))
		ASSERT_EQ(load(path_in("nul"), &b), -EBADMSG, "NUL in the file");
	free(text);
}

/* ---- directories and links -------------------------------------------------- */

static bool make_dir(const char *path, mode_t mode, uid_t uid)
{
	if (mkdir(path, 0700) && errno != EEXIST)
		return TEST_FAIL("mkdir %s: %s", path, strerror(errno));
	if (chown(path, uid, 0) || chmod(path, mode))
		return TEST_FAIL("chown/chmod %s: %s", path, strerror(errno));
	return true;
}

static void test_dir_writable_by_others(void)
{
	const mode_t modes[] = { 0777, 0775, 01777, 0757 };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!make_dir(path_in("open"), modes[i], 0))
			return;
		ASSERT_EQ(persist_check_dir(path_in("open/state"), "state file", err, sizeof(err)),
			  -EPERM, "a directory others can write");
		ASSERT_TRUE(strstr(err, "chmod go-w") && strstr(err, path_in("open")),
			    "mode %o: message: %s", modes[i], err);
	}
}

static void test_dir_owned_by_other(void)
{
	if (!make_dir(path_in("theirs"), 0755, NOBODY))
		return;
	ASSERT_EQ(persist_check_dir(path_in("theirs/xlbd.sock"), "control socket", err,
				    sizeof(err)),
		  -EPERM, "a directory of uid 65534");
	ASSERT_TRUE(strstr(err, "owned by uid 65534") && strstr(err, "chown root"), "message: %s",
		    err);
	/* Below it, even a root-owned 0755 directory is not safe: the owner
	 * of the parent can rename it away. */
	if (!make_dir(path_in("theirs/mine"), 0755, 0))
		return;
	ASSERT_EQ(persist_check_dir(path_in("theirs/mine/state"), "state file", err, sizeof(err)),
		  -EPERM, "under a directory of uid 65534");
}

/* A root-owned 0755 directory under a sticky world-writable one, as the
 * tests' /tmp/xe2e-NAME, passes; so does a relative path. */
static void test_dir_sticky_ancestor(void)
{
	char cwd[512];

	if (!make_dir(path_in("sticky"), 01777, 0) || !make_dir(path_in("sticky/run"), 0755, 0))
		return;
	ASSERT_OK(persist_check_dir(path_in("sticky/run/xlbd.sock"), "control socket", err,
				    sizeof(err)),
		  err);
	if (!ASSERT_NOT_NULL(getcwd(cwd, sizeof(cwd)), "getcwd") ||
	    !ASSERT_OK(chdir(path_in("sticky")), "chdir"))
		return;
	ASSERT_OK(persist_check_dir("run/state", "state file", err, sizeof(err)), err);
	ASSERT_OK(chdir(cwd), "chdir back");
}

/* A link on the way counts as its owner's: another user's link in a sticky
 * directory can be pointed elsewhere at any time. */
static void test_dir_link_on_the_way(void)
{
	if (!make_dir(path_in("sticky"), 01777, 0) || !make_dir(path_in("safe"), 0755, 0))
		return;
	unlink(path_in("sticky/link"));
	if (!ASSERT_OK(symlink(path_in("safe"), path_in("sticky/link")), "symlink") ||
	    !ASSERT_OK(lchown(path_in("sticky/link"), NOBODY, 0), "lchown"))
		return;
	ASSERT_EQ(persist_check_dir(path_in("sticky/link/state"), "state file", err, sizeof(err)),
		  -EPERM, "a link of uid 65534 on the way");
	ASSERT_OK(lchown(path_in("sticky/link"), 0, 0), "lchown root");
	ASSERT_OK(persist_check_dir(path_in("sticky/link/state"), "state file", err, sizeof(err)),
		  err);
}

/* A link planted as STATE.tmp is removed, not written through. */
static void test_tmp_link_not_followed(void)
{
	char *text, *victim;
	size_t len;
	struct stat st;

	if (!put_file(path_in("victim"), "precious\n", 9))
		return;
	unlink(path_in("st.tmp"));
	if (!ASSERT_OK(symlink(path_in("victim"), path_in("st.tmp")), "symlink"))
		return;
	if (!written(path_in("st"), &text, &len))
		return;
	free(text);
	victim = get_file(path_in("victim"), &len);
	ASSERT_TRUE(victim && !strcmp(victim, "precious\n"), "the link's target was written");
	free(victim);
	ASSERT_OK(lstat(path_in("st"), &st), "lstat");
	ASSERT_TRUE(S_ISREG(st.st_mode), "the state file is a regular file");
	ASSERT_EQ(st.st_mode & 0777, 0600, "its mode");
}

static void test_state_link_refused(void)
{
	struct persist_body b;

	unlink(path_in("linked"));
	if (!ASSERT_OK(symlink(path_in("victim"), path_in("linked")), "symlink"))
		return;
	ASSERT_EQ(load(path_in("linked"), &b), -ELOOP, "a state file that is a link");
	ASSERT_TRUE(strstr(err, "symbolic link") != NULL, "message: %s", err);
}

int main(void)
{
	int rc;

	if (!mkdtemp(root)) {
		printf("FAIL test_persist: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	RUN_TEST(test_round_trip);
	RUN_TEST(test_every_prefix_refused);
	RUN_TEST(test_empty_named);
	RUN_TEST(test_missing_line);
	RUN_TEST(test_foreign_and_newer);
	RUN_TEST(test_legacy);
	RUN_TEST(test_nul);
	RUN_TEST(test_dir_writable_by_others);
	RUN_TEST(test_dir_owned_by_other);
	RUN_TEST(test_dir_sticky_ancestor);
	RUN_TEST(test_dir_link_on_the_way);
	RUN_TEST(test_tmp_link_not_followed);
	RUN_TEST(test_state_link_refused);
	rc = test_exit_status();
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", root);
		if (system(cmd))
			test_log("could not remove %s", root);
	}
	return rc;
}
