;;; weak_table.scm: a weak-keyed hash table under churn, the weak-reference workload of
;;; bench/guile/run.sh. Usage: guile-3.0 weak_table.scm OPERATIONS
;;; Keys are fresh objects; one in four stays reachable from a ring of 10,000 slots, the others
;;; die with their entries. At the end every key still in the ring must find its value; prints
;;; the table's size after a collection and "ok", or exits 1.
(define operations (string->number (cadr (command-line))))
(define table (make-weak-key-hash-table))
(define ring (make-vector 10000 #f))

(let loop ((i 0))
  (when (< i operations)
    (let* ((key (list 'key i))
           (value (vector i (car (cdr key)) (make-string 16 #\x))))
      (hashq-set! table key value)
      (when (= 0 (modulo i 4))
        (vector-set! ring (modulo (quotient i 4) 10000) key))
      (loop (+ i 1)))))

(gc)
(define bad 0)
(let loop ((k 0))
  (when (< k 10000)
    (let* ((key (vector-ref ring k))
           (value (and key (hashq-ref table key))))
      (when (and key (not (and value (eqv? (vector-ref value 1) (cadr key)))))
        (set! bad (+ bad 1))))
    (loop (+ k 1))))
(define size (hash-fold (lambda (k v n) (+ n 1)) 0 table))
(format #t "entries after collection: ~a (at least 10000 live keys)\n" size)
(if (= bad 0) (display "ok\n") (begin (format #t "~a keys lost their values\n" bad) (exit 1)))
