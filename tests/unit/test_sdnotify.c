/*
 * Tests for sdnotify: systemd's readiness datagram, received by the test
 * in systemd's place on a socket in a temporary directory and on an
 * abstract one; NOTIFY_SOCKET unset or unusable.
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/sdnotify.h"
#include "testutil.h"

/*
 * A datagram socket at path ("@name": abstract), as systemd makes one.
 * Returns the fd.
 */
static int
listener(const char *path, int type)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path));
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 1), 0);
	return fd;
}

/* The one datagram waiting on fd is want, and nothing follows it. */
static void
expect_datagram(int fd, const char *want)
{
	char buf[512];
	ssize_t n;

	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	assert_int_equal(n, (ssize_t)strlen(want));
	assert_memory_equal(buf, want, strlen(want));
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void
test_unset(void **state)
{
	assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
	assert_int_equal(sdnotify("READY=1"), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", "", 1), 0);
	assert_int_equal(sdnotify("READY=1"), 0);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_path(void **state)
{
	char dir[64], path[128];
	const char *status = "STATUS=relaying for 3 chargers\nMAINPID=4242";
	char buf[64];
	int fd;

	assert_int_equal(test_tmpdir(dir, sizeof(dir), "sdnotify"), 0);
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = listener(path, SOCK_DGRAM);
	assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
	assert_int_equal(sdnotify("READY=1"), 0);
	expect_datagram(fd, "READY=1");
	/* A longer state, newlines and all, in one datagram. */
	assert_int_equal(sdnotify(status), 0);
	expect_datagram(fd, status);
	/* Two in a row stay two datagrams. */
	assert_int_equal(sdnotify("RELOADING=1"), 0);
	assert_int_equal(sdnotify("READY=1"), 0);
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 11);
	assert_memory_equal(buf, "RELOADING=1", 11);
	expect_datagram(fd, "READY=1");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(test_rmtree(dir), 0);
}

static void
test_abstract(void **state)
{
	char name[64], other[80], buf[64];
	int fd, fd2;

	snprintf(name, sizeof(name), "@evgate-sdnotify-test.%ld",
	    (long)getpid());
	/* a name that extends ours: the length must be exact */
	snprintf(other, sizeof(other), "%s.x", name);
	fd = listener(name, SOCK_DGRAM);
	fd2 = listener(other, SOCK_DGRAM);
	assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
	assert_int_equal(sdnotify("READY=1"), 0);
	expect_datagram(fd, "READY=1");
	assert_int_equal(setenv("NOTIFY_SOCKET", other, 1), 0);
	assert_int_equal(sdnotify("STOPPING=1"), 0);
	expect_datagram(fd2, "STOPPING=1");
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	close(fd);
	close(fd2);
	unsetenv("NOTIFY_SOCKET");
}

/* A variable that names no usable socket is an error, not a crash. */
static void
test_bad(void **state)
{
	char dir[64], path[128], big[200];
	int fd;

	/* neither a path nor an abstract name */
	assert_int_equal(setenv("NOTIFY_SOCKET", "notify", 1), 0);
	assert_int_equal(sdnotify("READY=1"), -1);
	/* too long for sun_path */
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(setenv("NOTIFY_SOCKET", big, 1), 0);
	assert_int_equal(sdnotify("READY=1"), -1);

	assert_int_equal(test_tmpdir(dir, sizeof(dir), "sdnotify"), 0);
	/* nobody there */
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
	assert_int_equal(sdnotify("READY=1"), -1);
	/* a stream socket is not systemd's */
	snprintf(path, sizeof(path), "%s/stream", dir);
	fd = listener(path, SOCK_STREAM);
	assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
	assert_int_equal(sdnotify("READY=1"), -1);
	close(fd);
	/* nor is a plain file */
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd != -1);
	close(fd);
	assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
	assert_int_equal(sdnotify("READY=1"), -1);
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(test_rmtree(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unset),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_abstract),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests_name("sdnotify", tests, NULL, NULL);
}
