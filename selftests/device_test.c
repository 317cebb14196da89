// SPDX-License-Identifier: GPL-2.0
/*
 * device_test - /dev/kvm_xbzrle is there and has the same access rules as
 * /dev/kvm: a misc character device with the same mode bits, owner and
 * group; it opens read-write; the module is a holder of kvm and registered
 * as a misc device in sysfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "xbzrle_tap.h"

#define DEV_PATH	"/dev/kvm_xbzrle"
#define KVM_PATH	"/dev/kvm"
#define HOLDER_PATH	"/sys/module/kvm/holders/kvm_xbzrle"
#define MISC_PATH	"/sys/class/misc/kvm_xbzrle"
#define MISC_MAJOR	10

#define NTESTS		10

static void exists(const char *path, const char *what)
{
	struct stat st;

	if (stat(path, &st))
		tap_result(0, "%s: %s: %s", what, path, strerror(errno));
	else
		tap_result(1, "%s: %s", what, path);
}

int main(void)
{
	struct stat kvm, dev;
	int have_dev, fd;
	char buf[32], want[32] = "";
	ssize_t n;

	if (stat(KVM_PATH, &kvm)) {
		if (errno == ENOENT)
			tap_skip_all(KVM_PATH " not present (kvm not loaded?): %s",
				     strerror(errno));
		tap_bail_out("stat " KVM_PATH);
	}

	tap_plan(NTESTS);

	have_dev = !stat(DEV_PATH, &dev);
	tap_result(have_dev, DEV_PATH " exists%s%s", have_dev ? "" : ": ",
		   have_dev ? "" : strerror(errno));

	if (have_dev) {
		tap_result(S_ISCHR(dev.st_mode),
			   DEV_PATH " is a character device (st_mode 0%o)",
			   dev.st_mode);
		tap_result(S_ISCHR(dev.st_mode) && major(dev.st_rdev) == MISC_MAJOR,
			   DEV_PATH " has the misc major %d (got %u:%u)",
			   MISC_MAJOR, major(dev.st_rdev), minor(dev.st_rdev));
		tap_result((dev.st_mode & 07777) == (kvm.st_mode & 07777),
			   DEV_PATH " mode 0%03o equals " KVM_PATH " mode 0%03o",
			   dev.st_mode & 07777, kvm.st_mode & 07777);
		tap_result(dev.st_uid == kvm.st_uid,
			   DEV_PATH " owner %u equals " KVM_PATH " owner %u",
			   dev.st_uid, kvm.st_uid);
		tap_result(dev.st_gid == kvm.st_gid,
			   DEV_PATH " group %u equals " KVM_PATH " group %u",
			   dev.st_gid, kvm.st_gid);
	} else {
		tap_result(0, DEV_PATH " is a character device (no device node)");
		tap_result(0, DEV_PATH " has the misc major %d (no device node)",
			   MISC_MAJOR);
		tap_result(0, DEV_PATH " mode equals " KVM_PATH " mode 0%03o (no device node)",
			   kvm.st_mode & 07777);
		tap_result(0, DEV_PATH " owner equals " KVM_PATH " owner %u (no device node)",
			   kvm.st_uid);
		tap_result(0, DEV_PATH " group equals " KVM_PATH " group %u (no device node)",
			   kvm.st_gid);
	}

	fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	tap_result(fd >= 0, DEV_PATH " opens O_RDWR%s%s", fd >= 0 ? "" : ": ",
		   fd >= 0 ? "" : strerror(errno));
	if (fd >= 0)
		close(fd);

	/* A built-in kvm has no holders directory and no reference to hold. */
	if (access("/sys/module/kvm/holders", F_OK) && errno == ENOENT)
		tap_skip("kvm is built in", "kvm_xbzrle holds kvm");
	else
		exists(HOLDER_PATH, "kvm_xbzrle holds kvm");
	exists(MISC_PATH, "kvm_xbzrle is a misc device");

	/* The sysfs dev attribute names the same device number as the node. */
	fd = open(MISC_PATH "/dev", O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		tap_result(0, MISC_PATH "/dev matches " DEV_PATH ": %s",
			   strerror(errno));
	} else {
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (have_dev)
			snprintf(want, sizeof(want), "%u:%u", major(dev.st_rdev),
				 minor(dev.st_rdev));
		if (have_dev)
			tap_result(!strcmp(buf, want), MISC_PATH "/dev %s matches "
				   DEV_PATH " %s", buf, want);
		else
			tap_result(0, MISC_PATH "/dev %s matches " DEV_PATH
				   " (no device node)", buf);
	}

	tap_finish();
}
