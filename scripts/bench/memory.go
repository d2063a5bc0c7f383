package main

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// memoryCase is an original that is costly to decode, made once into the
// bench cache.
type memoryCase struct {
	Name string `json:"name"`
	Desc string `json:"desc"`
	file string
	ext  string
}

// memoryRow is the peak RSS of one server given concurrency requests of
// one case at once, with a memory budget (MaxMemoryMB, 0: none, as before
// the budget existed).
type memoryRow struct {
	Case        string         `json:"case"`
	Concurrency int            `json:"concurrency"`
	MaxMemoryMB int            `json:"max_memory_mb"`
	PeakRSS     int64          `json:"peak_rss_bytes"`
	Statuses    map[string]int `json:"statuses"`
	Seconds     float64        `json:"seconds"`
}

// makeMemoryCorpus makes, once, the originals of the memory runs in dir: a
// 7071x7071 RGBA 16-bit PNG (50 megapixels, 400 MB decoded, a few hundred
// KB stored), the same interlaced, and a 20-megapixel progressive JPEG.
func makeMemoryCorpus(ctx context.Context, dir string, stderr io.Writer) ([]memoryCase, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cases := []memoryCase{
		{Name: "png16", Desc: "7071x7071 RGBA 16-bit PNG", file: filepath.Join(dir, "deep.png"), ext: "png"},
		{Name: "png16-interlaced", Desc: "the same, interlaced", file: filepath.Join(dir, "deep-interlaced.png"), ext: "png"},
		{Name: "jpeg-progressive", Desc: "5472x3648 progressive JPEG", file: filepath.Join(dir, "photo-progressive.jpg"), ext: "jpg"},
	}
	made := func(path string) bool { _, err := os.Stat(path); return err == nil }
	if !made(cases[0].file) {
		fmt.Fprintln(stderr, "bench: making the memory originals (once)")
		img := image.NewNRGBA64(image.Rect(0, 0, 7071, 7071))
		for y := range 7071 {
			for x := range 7071 {
				// Blocks: a few hundred KB stored, however it is written.
				img.SetNRGBA64(x, y, color.NRGBA64{R: uint16(x / 256 * 2000), G: uint16(y / 256 * 2000), B: 0x8000, A: 0xFFFF})
			}
		}
		if err := writeImage(cases[0].file, func(w io.Writer) error {
			return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, img)
		}); err != nil {
			return nil, err
		}
	}
	if !made(cases[1].file) {
		if err := vipsCopy(ctx, cases[0].file, cases[1].file+"[interlace]"); err != nil {
			return nil, err
		}
	}
	if !made(cases[2].file) {
		plain := filepath.Join(dir, "photo.jpg")
		img := image.NewRGBA(image.Rect(0, 0, 5472, 3648))
		for i := range img.Pix {
			img.Pix[i] = uint8(i*31 + i/5472*17)
		}
		if err := writeImage(plain, func(w io.Writer) error { return jpeg.Encode(w, img, &jpeg.Options{Quality: 90}) }); err != nil {
			return nil, err
		}
		if err := vipsCopy(ctx, plain, cases[2].file+"[interlace,Q=90]"); err != nil {
			return nil, err
		}
	}
	return cases, nil
}

func writeImage(path string, encode func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := encode(f); err != nil {
		f.Close()
		return fmt.Errorf("make %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// vipsCopy converts with the vips command (libvips-tools).
func vipsCopy(ctx context.Context, in, out string) error {
	if b, err := exec.CommandContext(ctx, "vips", "copy", in, out).CombinedOutput(); err != nil {
		return fmt.Errorf("vips copy %s %s: %w\n%s", in, out, err, b)
	}
	return nil
}

// benchMemory starts a server per case, concurrency and budget on a store
// holding concurrency copies of the case (distinct keys: nothing is
// coalesced), asks for a thumbnail of each copy at once, and reads the
// server's peak RSS.
func benchMemory(ctx context.Context, binary, work string, cases []memoryCase, concs, budgetsMB []int, stderr io.Writer) ([]memoryRow, error) {
	var rows []memoryRow
	for _, mc := range cases {
		data, err := os.ReadFile(mc.file)
		if err != nil {
			return nil, err
		}
		for _, c := range concs {
			dir := filepath.Join(work, fmt.Sprintf("memory-%s-%d", mc.Name, c))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			for i := range c {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("m%d.%s", i, mc.ext)), data, 0o644); err != nil {
					return nil, err
				}
			}
			for _, budget := range budgetsMB {
				fmt.Fprintf(stderr, "bench: memory %s c=%d --max-memory %d:", mc.Name, c, budget)
				row, err := memoryRun(ctx, binary, dir, mc, c, budget)
				if err != nil {
					fmt.Fprintln(stderr)
					return nil, err
				}
				fmt.Fprintf(stderr, " peak RSS %.0f MB %v\n", mb(row.PeakRSS), row.Statuses)
				rows = append(rows, row)
			}
			os.RemoveAll(dir)
		}
	}
	return rows, nil
}

func memoryRun(ctx context.Context, binary, dir string, mc memoryCase, c, budgetMB int) (memoryRow, error) {
	srv, err := startServer(ctx, binary, []string{"--store", "file://" + dir, "--store-back=false", "--workers", "0",
		"--max-memory", strconv.Itoa(budgetMB), "--max-queue", "256", "--request-timeout", "5m"})
	if err != nil {
		return memoryRow{}, err
	}
	defer srv.stop()
	row := memoryRow{Case: mc.Name, Concurrency: c, MaxMemoryMB: budgetMB, Statuses: map[string]int{}}
	client := &http.Client{Timeout: 10 * time.Minute}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := range c {
		wg.Go(func() {
			status := "error"
			resp, err := client.Get(srv.url(fmt.Sprintf("/resize?src=m%d_200x200.jpg", i)))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = strconv.Itoa(resp.StatusCode)
			}
			mu.Lock()
			row.Statuses[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	row.Seconds = time.Since(start).Seconds()
	if row.PeakRSS, err = srv.peakRSS(); err != nil {
		return row, err
	}
	return row, nil
}
