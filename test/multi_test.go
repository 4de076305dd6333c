package test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestTransactions: concurrent go-redis clients move money between
// accounts with MULTI/EXEC (the total never changes, and a transaction's
// reads see its own writes), and increment a counter with WATCH (no
// increment is lost, however often EXEC is refused).
func TestTransactions(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	lead := c.waitLeader(10 * time.Second)
	const accounts, clients, rounds = 5, 6, 40
	setup := c.client(lead)
	for i := range accounts {
		if err := setup.Set(ctx, fmt.Sprintf("acct%d", i), 100, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var refused atomic.Int64
	errs := make(chan error, clients*2)
	for w := range clients {
		wg.Add(2)
		go func() {
			defer wg.Done()
			cl := c.client(lead)
			for r := range rounds {
				from, to := fmt.Sprintf("acct%d", (w+r)%accounts), fmt.Sprintf("acct%d", (w+2*r+1)%accounts)
				var all *redis.SliceCmd
				_, err := cl.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.DecrBy(ctx, from, 7)
					p.IncrBy(ctx, to, 7)
					keys := make([]string, accounts)
					for i := range keys {
						keys[i] = fmt.Sprintf("acct%d", i)
					}
					all = p.MGet(ctx, keys...)
					return nil
				})
				if err != nil {
					errs <- fmt.Errorf("transfer: %w", err)
					return
				}
				// The read inside the transaction sees a total that no
				// other transfer is halfway through.
				sum := 0
				for _, v := range all.Val() {
					n, _ := strconv.Atoi(v.(string))
					sum += n
				}
				if sum != accounts*100 {
					errs <- fmt.Errorf("a transaction read a total of %d, want %d", sum, accounts*100)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			cl := c.client(lead)
			for range rounds / 4 {
				for {
					err := cl.Watch(ctx, func(tx *redis.Tx) error {
						n, err := tx.Get(ctx, "counter").Int()
						if err != nil && !errors.Is(err, redis.Nil) {
							return err
						}
						_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
							p.Set(ctx, "counter", n+1, 0)
							return nil
						})
						return err
					}, "counter")
					if errors.Is(err, redis.TxFailedErr) {
						refused.Add(1)
						continue // someone else got there first: try again
					}
					if err != nil {
						errs <- fmt.Errorf("watched increment: %w", err)
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("EXEC refused %d watched increments", refused.Load())
	if n, err := setup.Get(ctx, "counter").Int(); err != nil || n != clients*(rounds/4) {
		t.Fatalf("counter = %d, %v; want %d: a watched increment was lost", n, err, clients*(rounds/4))
	}
	sum := 0
	for i := range accounts {
		v, err := setup.Get(ctx, fmt.Sprintf("acct%d", i)).Int()
		if err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	if sum != accounts*100 {
		t.Fatalf("the accounts hold %d, want %d", sum, accounts*100)
	}
}
