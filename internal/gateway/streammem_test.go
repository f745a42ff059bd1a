package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/gateway"
	"github.com/aigate/aigate/internal/llmmock"
)

// idleStreams is how many streams BenchmarkIdleStream holds open at once:
// enough that per-stream costs dwarf the noise of one process's heap.
const idleStreams = 1000

// BenchmarkIdleStream measures what one idle stream costs aigate: the
// heap, goroutine stacks and goroutines held while a chat stream waits on a
// silent upstream (the mock sends its first delta and then nothing, like a
// model thinking). The same streams are opened straight to the mock and then
// through a replica; everything is in this process, so the client's and the
// mock's share is the same in both and the difference is aigate's. It is a
// measurement (docs/performance.md, "Per-stream memory"), not a bound.
func BenchmarkIdleStream(b *testing.B) {
	mock := llmmock.New(b, llmmock.Options{Events: 2, StallAfter: 1})
	// The production transport, given so its idle connections can be
	// closed between rounds: otherwise a round reuses the last one's.
	upstream := gateway.NewTransport()
	b.Cleanup(upstream.CloseIdleConnections)
	e := setup(b, options{transport: upstream})
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	reqBody := body(chatBody, true)

	var heap, stack, goroutines float64
	for b.Loop() {
		direct := holdStreams(b, mock.OpenAIBaseURL()+"/chat/completions", openAIKey, reqBody, func() {})
		gw := holdStreams(b, e.url+"/ai/oa/v1/chat/completions", e.token, reqBody, upstream.CloseIdleConnections)
		heap += float64(gw.heap-direct.heap) / idleStreams
		stack += float64(gw.stack-direct.stack) / idleStreams
		goroutines += float64(gw.goroutines-direct.goroutines) / idleStreams
	}
	n := float64(b.N)
	b.ReportMetric(heap/n, "heap-B/stream")
	b.ReportMetric(stack/n, "stack-B/stream")
	b.ReportMetric(goroutines/n, "goroutines/stream")
	b.ReportMetric(0, "ns/op")
}

// held is what idleStreams open streams add to the process.
type held struct {
	heap, stack uint64
	goroutines  int
}

// holdStreams opens idleStreams streams to target, waits until each has
// its first event, measures, and closes them again; closeIdle closes what
// the far side keeps of them.
func holdStreams(b *testing.B, target, token, reqBody string, closeIdle func()) held {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: idleStreams}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	before, goroutines := memSettled()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	started := make(chan error, idleStreams)
	for range idleStreams {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(reqBody))
			if err != nil {
				started <- err
				return
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				started <- err
				return
			}
			defer resp.Body.Close()
			started <- firstEvent(resp)
			_, _ = io.Copy(io.Discard, resp.Body) // until cancelled
		})
	}
	for range idleStreams {
		require.NoError(b, <-started)
	}
	after, during := memSettled()
	cancel()
	wg.Wait()
	tr.CloseIdleConnections()
	closeIdle()
	// Wait for both ends of every stream to be gone before the next
	// measurement.
	deadline := time.Now().Add(waitFor)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
	return held{
		heap:       after.HeapInuse - min(before.HeapInuse, after.HeapInuse),
		stack:      after.StackInuse - min(before.StackInuse, after.StackInuse),
		goroutines: during - goroutines,
	}
}

// firstEvent reads the stream until its first whole event.
func firstEvent(resp *http.Response) error {
	if resp.StatusCode != http.StatusOK {
		return &statusError{resp.StatusCode}
	}
	var got []byte
	buf := make([]byte, 512)
	for !bytes.Contains(got, []byte("\n\n")) {
		n, err := resp.Body.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return err
		}
	}
	return nil
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

// memSettled collects garbage twice (finalizers run between) and reads the
// memory statistics and goroutine count.
func memSettled() (runtime.MemStats, int) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m, runtime.NumGoroutine()
}
