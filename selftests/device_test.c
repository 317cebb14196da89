// SPDX-License-Identifier: GPL-2.0
/*
 * device_test - /dev/kvm_xbzrle is there and has the same access rules as
 * /dev/kvm: a misc character device with the same mode bits, owner and
 * group; it opens read-write; the module is a holder of kvm and registered
 * as a misc device in sysfs.
 *
 * On the kernel's kselftest harness (kselftest_harness.h): one case per
 * property, each in its own process with its own fixture (the two device
 * nodes' stat), so the plan counts itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "xbzrle_tap.h"

#define DEV_PATH	"/dev/kvm_xbzrle"
#define KVM_PATH	"/dev/kvm"
#define HOLDER_PATH	"/sys/module/kvm/holders/kvm_xbzrle"
#define MISC_PATH	"/sys/class/misc/kvm_xbzrle"
#define MISC_MAJOR	10U

FIXTURE(nodes) {
	struct stat kvm;
	struct stat dev;
};

/* Without /dev/kvm there is nothing to compare with: every case skips. */
FIXTURE_SETUP(nodes)
{
	if (stat(KVM_PATH, &self->kvm)) {
		ASSERT_EQ(ENOENT, errno);
		SKIP(return, KVM_PATH " not present (kvm not loaded?)");
	}
	ASSERT_EQ(0, stat(DEV_PATH, &self->dev))
		TH_LOG(DEV_PATH ": %s", strerror(errno));
}

FIXTURE_TEARDOWN(nodes)
{
}

TEST_F(nodes, is_misc_char_device)
{
	EXPECT_TRUE(S_ISCHR(self->dev.st_mode))
		TH_LOG("st_mode 0%o", self->dev.st_mode);
	EXPECT_EQ(MISC_MAJOR, major(self->dev.st_rdev))
		TH_LOG("device %u:%u", major(self->dev.st_rdev),
		       minor(self->dev.st_rdev));
}

TEST_F(nodes, mode_owner_group_of_kvm)
{
	EXPECT_EQ(self->kvm.st_mode & 07777, self->dev.st_mode & 07777);
	EXPECT_EQ(self->kvm.st_uid, self->dev.st_uid);
	EXPECT_EQ(self->kvm.st_gid, self->dev.st_gid);
}

TEST_F(nodes, opens_read_write)
{
	int fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	close(fd);
}

/* The sysfs dev attribute names the same device number as the node. */
TEST_F(nodes, sysfs_dev_matches_node)
{
	char buf[32], want[32];
	ssize_t n;
	int fd;

	fd = open(MISC_PATH "/dev", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG(MISC_PATH "/dev: %s", strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LT(0, n);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(want, sizeof(want), "%u:%u", major(self->dev.st_rdev),
		 minor(self->dev.st_rdev));
	EXPECT_STREQ(want, buf);
}

/* A built-in kvm has no holders directory and no reference to hold. */
TEST(holds_kvm)
{
	if (access("/sys/module/kvm/holders", F_OK) && errno == ENOENT)
		SKIP(return, "kvm is built in");
	EXPECT_EQ(0, access(HOLDER_PATH, F_OK))
		TH_LOG(HOLDER_PATH ": %s", strerror(errno));
}

TEST(registered_as_misc_device)
{
	EXPECT_EQ(0, access(MISC_PATH, F_OK))
		TH_LOG(MISC_PATH ": %s", strerror(errno));
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
