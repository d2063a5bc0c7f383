//go:build !noprefetch

#include "textflag.h"

// func prefetch(s *keySlot)
TEXT ·prefetch(SB), NOSPLIT|NOFRAME, $0-8
	MOVD	s+0(FP), R0
	PRFM	(R0), PLDL1KEEP
	RET
