# charger-fw/: the charger firmware (portable core + HAL).  See doc/hal.md.
EXTRA_DIST += charger-fw/hal/hal.h
