// robfig/cron v3 (dkron's scheduling engine) in the scheduler bench's scenario: N jobs
// "@every 1s" whose function only notes the wall-clock time of the fire. After SECS seconds it
// prints one key=value line (CPU, max RSS, heap bytes per job) and writes every fire time (Unix
// nanoseconds, one per line) to $FIRES_FILE, so the bench computes lateness the same way for
// every peer. Built and run by benches/benches/scheduler.rs; by hand:
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o /tmp/robfig-sched main.go
//	FIRES_FILE=/tmp/fires.txt /tmp/robfig-sched 10000 10
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/robfig/cron"
)

func usage() (cpu float64, maxrssKiB int64) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9, ru.Maxrss
}

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	secs, _ := strconv.Atoi(os.Args[2])
	var mu sync.Mutex
	fires := make([]int64, 0, n*(secs+1))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := cron.New(cron.WithSeconds())
	for i := 0; i < n; i++ {
		_, err := c.AddFunc("@every 1s", func() {
			t := time.Now().UnixNano()
			mu.Lock()
			fires = append(fires, t)
			mu.Unlock()
		})
		if err != nil {
			panic(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)

	cpu0, _ := usage()
	wall0 := time.Now()
	c.Start()
	time.Sleep(time.Duration(secs) * time.Second)
	<-c.Stop().Done()
	cpu1, maxrss := usage()
	wall := time.Since(wall0).Seconds()

	mu.Lock()
	defer mu.Unlock()
	out, err := os.Create(os.Getenv("FIRES_FILE"))
	if err != nil {
		panic(err)
	}
	w := bufio.NewWriter(out)
	for _, t := range fires {
		w.WriteString(strconv.FormatInt(t, 10))
		w.WriteByte('\n')
	}
	w.Flush()
	out.Close()
	fmt.Printf("peer=robfig n=%d cpu_pct=%.1f maxrss_kib=%d bytes_per_job=%.0f\n",
		n, 100*(cpu1-cpu0)/wall, maxrss, float64(after.HeapAlloc-before.HeapAlloc)/float64(n))
}
