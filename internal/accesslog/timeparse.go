package accesslog

import (
	"errors"
	"time"
)

// Years outside this range are refused: no access log is that old, and
// keeping the year to four digits lets every parsed time be written back.
const (
	minYear = 1970
	maxYear = 9999
)

var (
	errTimeLayout = errors.New("want [DD/Mon/YYYY:hh:mm:ss +zzzz]")
	errTimeRange  = errors.New("date or time out of range")
)

// digits2 parses two decimal digits.
func digits2(b []byte) (int, bool) {
	if len(b) < 2 || b[0] < '0' || b[0] > '9' || b[1] < '0' || b[1] > '9' {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

// digits4 parses four decimal digits.
func digits4(b []byte) (int, bool) {
	hi, ok1 := digits2(b)
	lo, ok2 := digits2(b[2:])
	return hi*100 + lo, ok1 && ok2
}

// monthOf parses an English three-letter month abbreviation, any case.
func monthOf(b []byte) (int, bool) {
	if len(b) < 3 {
		return 0, false
	}
	// Fold to lower case; the three letters identify the month uniquely.
	k := uint32(b[0]|0x20)<<16 | uint32(b[1]|0x20)<<8 | uint32(b[2]|0x20)
	switch k {
	case 'j'<<16 | 'a'<<8 | 'n':
		return 1, true
	case 'f'<<16 | 'e'<<8 | 'b':
		return 2, true
	case 'm'<<16 | 'a'<<8 | 'r':
		return 3, true
	case 'a'<<16 | 'p'<<8 | 'r':
		return 4, true
	case 'm'<<16 | 'a'<<8 | 'y':
		return 5, true
	case 'j'<<16 | 'u'<<8 | 'n':
		return 6, true
	case 'j'<<16 | 'u'<<8 | 'l':
		return 7, true
	case 'a'<<16 | 'u'<<8 | 'g':
		return 8, true
	case 's'<<16 | 'e'<<8 | 'p':
		return 9, true
	case 'o'<<16 | 'c'<<8 | 't':
		return 10, true
	case 'n'<<16 | 'o'<<8 | 'v':
		return 11, true
	case 'd'<<16 | 'e'<<8 | 'c':
		return 12, true
	}
	return 0, false
}

var monthAbbr = [13]string{"", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// daysIn is the number of days in month m of year y.
func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400 // y ≥ 0 here: years are checked first
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// civilTime turns a checked date, time of day and zone offset (seconds east
// of UTC) into a UTC time.
func civilTime(y, mo, d, h, mi, s, offset int) (time.Time, error) {
	if y < minYear || y > maxYear || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) ||
		h > 23 || mi > 59 || s > 59 {
		return time.Time{}, errTimeRange
	}
	sec := daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+s) - int64(offset)
	if sec < minUnix || sec >= maxUnix { // the zone moved it out of the years allowed
		return time.Time{}, errTimeRange
	}
	return time.Unix(sec, 0).UTC(), nil
}

// The unix seconds of the first instant of minYear and of the year after
// maxYear.
const (
	minUnix = 0 // minYear is 1970
	maxUnix = 253402300800
)

// parseS3Time parses the inside of the bracketed S3 time,
// "06/Feb/2019:00:00:38 +0000" (strftime "%d/%b/%Y:%H:%M:%S %z").
func parseS3Time(b []byte) (time.Time, error) {
	if len(b) != 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' ||
		b[17] != ':' || b[20] != ' ' || (b[21] != '+' && b[21] != '-') {
		return time.Time{}, errTimeLayout
	}
	d, ok1 := digits2(b[0:])
	mo, ok2 := monthOf(b[3:])
	y, ok3 := digits4(b[7:])
	h, ok4 := digits2(b[12:])
	mi, ok5 := digits2(b[15:])
	s, ok6 := digits2(b[18:])
	zh, ok7 := digits2(b[22:])
	zm, ok8 := digits2(b[24:])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) {
		return time.Time{}, errTimeLayout
	}
	if zh > 23 || zm > 59 {
		return time.Time{}, errTimeRange
	}
	offset := zh*3600 + zm*60
	if b[21] == '-' {
		offset = -offset
	}
	return civilTime(y, mo, d, h, mi, s, offset)
}

// appendS3Time appends t in UTC as "[06/Feb/2019:00:00:38 +0000]".
func appendS3Time(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = append(dst, '[')
	dst = append2(dst, d)
	dst = append(dst, '/')
	dst = append(dst, monthAbbr[mo]...)
	dst = append(dst, '/')
	dst = append4(dst, y)
	dst = append(dst, ':')
	dst = append2(dst, h)
	dst = append(dst, ':')
	dst = append2(dst, mi)
	dst = append(dst, ':')
	dst = append2(dst, s)
	return append(dst, " +0000]"...)
}

// parseW3CDateTime parses CloudFront's "2019-12-04" and "21:02:31" (UTC).
func parseW3CDateTime(date, clock []byte) (time.Time, error) {
	if len(date) != 10 || date[4] != '-' || date[7] != '-' || len(clock) != 8 || clock[2] != ':' || clock[5] != ':' {
		return time.Time{}, errors.New("want YYYY-MM-DD and hh:mm:ss")
	}
	y, ok1 := digits4(date)
	mo, ok2 := digits2(date[5:])
	d, ok3 := digits2(date[8:])
	h, ok4 := digits2(clock)
	mi, ok5 := digits2(clock[3:])
	s, ok6 := digits2(clock[6:])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, errors.New("want YYYY-MM-DD and hh:mm:ss")
	}
	return civilTime(y, mo, d, h, mi, s, 0)
}

// appendW3CDateTime appends t in UTC as "2019-12-04\t21:02:31".
func appendW3CDateTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = append4(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, int(mo))
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, '\t')
	dst = append2(dst, h)
	dst = append(dst, ':')
	dst = append2(dst, mi)
	dst = append(dst, ':')
	return append2(dst, s)
}

func append2(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/10%10), byte('0'+n%10))
}

func append4(dst []byte, n int) []byte {
	return append2(append2(dst, n/100), n%100)
}
