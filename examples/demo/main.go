// A small order-processing program for the README demo: a few goroutines, structs, slices
// and strings for gdb to look at through gostub. `demo bad-coupon` sends an order with a
// coupon that does not exist, and a worker panics.
package main

import (
	"fmt"
	"os"
	"sync"
)

type Item struct {
	Name  string
	Cents int
}

type Order struct {
	ID     int
	Owner  string
	Items  []Item
	Coupon int
}

// Discounts in cents, by coupon number.
var discounts = []int{0, 100, 250}

//go:noinline
func checkout(order Order) int {
	total := 0
	for _, item := range order.Items {
		total += item.Cents
	}
	return total - discounts[order.Coupon]
}

func main() {
	badCoupon := len(os.Args) > 1 && os.Args[1] == "bad-coupon"
	orders := make(chan Order)
	var wg sync.WaitGroup
	var mu sync.Mutex
	revenue := 0
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			for order := range orders {
				cents := checkout(order)
				mu.Lock()
				revenue += cents
				mu.Unlock()
			}
			// Not deferred: a worker that panics must not let main finish (and exit 0)
			// while the runtime is still on its way to printing the panic.
			wg.Done()
		}()
	}
	for id := 1; id <= 5; id++ {
		order := Order{ID: id, Owner: fmt.Sprintf("customer-%d", id),
			Items: []Item{{"gopher plush", 1999}, {"sticker", 250 * id}}, Coupon: id % 3}
		if badCoupon && id == 4 {
			order.Coupon = 5
		}
		orders <- order
	}
	close(orders)
	wg.Wait()
	fmt.Printf("revenue: %d.%02d\n", revenue/100, revenue%100)
}
