/* SPDX-License-Identifier: MIT */
/* main.c: placeholder until the daemon lands. */
#include <stdio.h>
int main(void) { puts("galley"); return 0; }
