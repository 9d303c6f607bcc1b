# charger-fw/: the charger firmware (portable core + HAL).  See doc/hal.md.
