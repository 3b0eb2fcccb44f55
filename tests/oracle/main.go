// The oracle for gostub's symbol tests: the same questions answered by Go's own debug/gosym,
// in the same output format as gostub's tools. Build it with the newest Go, which reads every
// pclntab format.
//
//	oracle functions BIN            entry end name, one function a line
//	oracle symbolize BIN ADDR...    "ADDR FUNC FILE:LINE" or "ADDR ?"
//	oracle lines BIN FUNC           where each line starts, found pc by pc with PCToLine
//	oracle sample BIN N             N addresses spread over the text, for symbolize
//	oracle layout BIN               runtime struct offsets from DWARF: "runtime.g.goid 152"
//	oracle waitreasons BIN          runtime.waitReasonStrings: "waitreason N text"
package main

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
)

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "oracle:", err)
		os.Exit(1)
	}
}

func section(f *elf.File, names ...string) *elf.Section {
	for _, name := range names {
		if s := f.Section(name); s != nil {
			return s
		}
	}
	return nil
}

// textStart is where Go code begins: runtime.text when the symbol table has it, else the
// address recorded in a Go 1.18+ pclntab header, else the .text section.
func textStart(f *elf.File, pclntab []byte) uint64 {
	if syms, err := f.Symbols(); err == nil {
		for _, s := range syms {
			if s.Name == "runtime.text" {
				return s.Value
			}
		}
	}
	magic := binary.LittleEndian.Uint32(pclntab)
	if (magic == 0xfffffff0 || magic == 0xfffffff1) && len(pclntab) >= 32 {
		if v := binary.LittleEndian.Uint64(pclntab[24:]); v != 0 {
			return v
		}
	}
	return f.Section(".text").Addr
}

func table(path string) *gosymTable {
	f, err := elf.Open(path)
	check(err)
	if s := section(f, ".gopclntab", ".data.rel.ro.gopclntab"); s != nil {
		data, err := s.Data()
		check(err)
		return newTable(data, textStart(f, data))
	}
	// An external linker may merge the table into .data.rel.ro: take the first 8-aligned Go
	// 1.18+ header there from which debug/gosym reads functions.
	s := section(f, ".data.rel.ro")
	if s == nil {
		check(fmt.Errorf("%s: no pclntab", path))
	}
	data, err := s.Data()
	check(err)
	for at := 0; at+32 <= len(data); at += 8 {
		magic := binary.LittleEndian.Uint32(data[at:])
		if (magic != 0xfffffff0 && magic != 0xfffffff1) || data[at+4] != 0 || data[at+5] != 0 || data[at+7] != 8 {
			continue
		}
		text := textStart(f, data[at:])
		if text == f.Section(".text").Addr {
			text = relocated(f, s.Addr+uint64(at)+24)
		}
		if t, err := tryTable(data[at:], text); err == nil && len(t.Funcs) > 0 {
			return t
		}
	}
	check(fmt.Errorf("%s: no pclntab", path))
	return nil
}

// relocated returns the addend of the R_X86_64_RELATIVE relocation at addr: what a PIE's
// loader stores there.
func relocated(f *elf.File, addr uint64) uint64 {
	rela := f.Section(".rela.dyn")
	if rela == nil {
		return 0
	}
	data, err := rela.Data()
	check(err)
	for at := 0; at+24 <= len(data); at += 24 {
		offset := binary.LittleEndian.Uint64(data[at:])
		info := binary.LittleEndian.Uint64(data[at+8:])
		if offset == addr && uint32(info) == uint32(elf.R_X86_64_RELATIVE) {
			return binary.LittleEndian.Uint64(data[at+16:])
		}
	}
	return 0
}

func main() {
	if len(os.Args) < 3 {
		check(fmt.Errorf("usage: oracle functions|symbolize|lines|sample BIN ..."))
	}
	switch os.Args[1] {
	case "layout":
		printLayout(os.Args[2])
		return
	case "waitreasons":
		printWaitReasons(os.Args[2])
		return
	}
	t := table(os.Args[2])
	switch os.Args[1] {
	case "functions":
		for _, fn := range t.Funcs {
			fmt.Printf("%#x %#x %s\n", fn.Entry, fn.End, fn.Name)
		}
	case "symbolize":
		for _, arg := range os.Args[3:] {
			pc, err := strconv.ParseUint(arg, 0, 64)
			check(err)
			fmt.Println(t.symbolize(pc))
		}
	case "lines":
		fn := t.LookupFunc(os.Args[3])
		if fn == nil {
			check(fmt.Errorf("no function %s", os.Args[3]))
		}
		lastFile, lastLine := "", -1
		for pc := fn.Entry; pc < fn.End; pc++ {
			file, line, _ := t.PCToLine(pc)
			if file != lastFile || line != lastLine {
				fmt.Printf("%#x %s:%d\n", pc, file, line)
				lastFile, lastLine = file, line
			}
		}
	case "sample":
		n, err := strconv.Atoi(os.Args[3])
		check(err)
		funcs := t.Funcs
		step := len(funcs)/n + 1
		for i := 0; i < len(funcs); i += step {
			fn := funcs[i]
			fmt.Printf("%#x %#x %#x\n", fn.Entry, fn.Entry+(fn.End-fn.Entry)/2, fn.End-1)
		}
	default:
		check(fmt.Errorf("unknown command %s", os.Args[1]))
	}
}
