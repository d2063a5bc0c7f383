//go:build !noprefetch

#include "textflag.h"

// func prefetch(s *keySlot)
TEXT ·prefetch(SB), NOSPLIT|NOFRAME, $0-8
	MOVQ	s+0(FP), AX
	PREFETCHT0	(AX)
	RET
