module gostub.test/oracle

go 1.21
