module gostub.example/demo

go 1.19
