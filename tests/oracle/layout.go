package main

// The runtime layouts gostub keeps in tables, read here from a binary's own DWARF, and the
// wait reasons from its runtime.waitReasonStrings: what gostub's tables must agree with.

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"fmt"
)

var layoutFields = map[string][]string{
	"runtime.g":     {"stack", "sched", "m", "atomicstatus", "waitreason", "goid", "gopc", "startpc", "labels", "waitsince", "syscallsp", "syscallpc"},
	"runtime.gobuf": {"sp", "pc", "bp"},
	"runtime.m":     {"g0", "curg", "procid"},
	"runtime.stack": {"lo", "hi"},
}

// printLayout prints "STRUCT.FIELD OFFSET" for each field above, in a fixed order.
func printLayout(path string) {
	f, err := elf.Open(path)
	check(err)
	d, err := f.DWARF()
	check(err)
	offsets := map[string]int64{}
	r := d.Reader()
	for {
		e, err := r.Next()
		check(err)
		if e == nil {
			break
		}
		if e.Tag != dwarf.TagStructType {
			continue
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		if _, wanted := layoutFields[name]; !wanted || !e.Children {
			continue
		}
		for {
			c, err := r.Next()
			check(err)
			if c == nil || c.Tag == 0 {
				break
			}
			field, _ := c.Val(dwarf.AttrName).(string)
			if off, ok := c.Val(dwarf.AttrDataMemberLoc).(int64); ok {
				offsets[name+"."+field] = off
			}
			if c.Children {
				r.SkipChildren()
			}
		}
	}
	for _, s := range []string{"runtime.g", "runtime.gobuf", "runtime.m", "runtime.stack"} {
		for _, field := range layoutFields[s] {
			if off, ok := offsets[s+"."+field]; ok {
				fmt.Printf("%s.%s %d\n", s, field, off)
			}
		}
	}
}

// printWaitReasons prints runtime.waitReasonStrings, one "waitreason N text" a line.
func printWaitReasons(path string) {
	f, err := elf.Open(path)
	check(err)
	syms, err := f.Symbols()
	check(err)
	read := func(addr, size uint64) []byte {
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr+size <= p.Vaddr+p.Filesz {
				b := make([]byte, size)
				_, err := p.ReadAt(b, int64(addr-p.Vaddr))
				check(err)
				return b
			}
		}
		check(fmt.Errorf("%#x not in the file", addr))
		return nil
	}
	for _, s := range syms {
		if s.Name != "runtime.waitReasonStrings" {
			continue
		}
		table := read(s.Value, s.Size)
		for i := uint64(0); i+16 <= uint64(len(table)); i += 16 {
			ptr := binary.LittleEndian.Uint64(table[i:])
			n := binary.LittleEndian.Uint64(table[i+8:])
			text := ""
			if n > 0 {
				text = string(read(ptr, n))
			}
			fmt.Printf("waitreason %d %s\n", i/16, text)
		}
	}
}
