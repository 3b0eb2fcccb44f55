package main

import (
	"debug/gosym"
	"fmt"
)

type gosymTable struct{ *gosym.Table }

func newTable(pclntab []byte, text uint64) *gosymTable {
	t, err := tryTable(pclntab, text)
	check(err)
	return t
}

func tryTable(pclntab []byte, text uint64) (*gosymTable, error) {
	t, err := gosym.NewTable(nil, gosym.NewLineTable(pclntab, text))
	if err != nil {
		return nil, err
	}
	return &gosymTable{t}, nil
}

func (t *gosymTable) symbolize(pc uint64) string {
	file, line, fn := t.PCToLine(pc)
	if fn == nil {
		return fmt.Sprintf("%#x ?", pc)
	}
	if file == "" {
		file = "?"
	}
	return fmt.Sprintf("%#x %s %s:%d", pc, fn.Name, file, line)
}
