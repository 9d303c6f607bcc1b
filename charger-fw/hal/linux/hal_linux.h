/*
 * hal_linux: the HAL on Linux, which makes the firmware the process
 * evcharger.  Board-specific entry points that the portable core never
 * sees: start-up, and the simulated car and meter that the control socket
 * drives.
 *
 * State lives in one directory (state_dir): kv/<key>, credentials,
 * boot-state, slot-a.img, slot-b.img.  The wall clock is a process-local
 * offset over CLOCK_REALTIME (kept in kv/rtc_offset_ms), so a test can run
 * several chargers on one machine, each with its own "RTC", without
 * touching the machine's clock.  Reboot re-executes the process.
 */
#ifndef EVFW_HAL_LINUX_H
#define EVFW_HAL_LINUX_H

#include <stdint.h>

#include "hal/hal.h"

struct hal_linux_params {
	const char	*state_dir;	/* created if missing */
	int		 log_stderr;	/* 1: stderr, 0: syslog */
	const char	*ident;		/* log tag */
	/* First-boot RTC offset from the host clock (simulates a wrong RTC). */
	int64_t		 rtc_offset_ms;
	uint64_t	 slot_size;	/* bytes; 0: 16 MiB */
	char *const	*argv;		/* for reboot (re-exec) */
	/* Tools (evprovision): storage only, no boot loader, no RTC. */
	int		 storage_only;
};

/*
 * Open the state directory, load the RTC offset and run the boot loader's
 * slot rule (hal.h).  0, or -1 with a message logged.
 */
int	 hal_linux_init(const struct hal_linux_params *);
/* Version string this build reports for the slot it runs from. */
const char *hal_linux_build_version(void);

/* The simulated car and meter (control socket: plug, unplug, ...). */
void	 hal_linux_sim_car(enum hal_car);
/* Cap the car's draw at watts (0: no cap beyond the offered current). */
void	 hal_linux_sim_set_power(double watts);
/* Ready for re-exec: close every descriptor but stdin/out/err. */
void	 hal_linux_close_fds(void);

#endif
