;; weak_tables.scm: weak-key hash tables drop entries whose keys died and keep the others.
(define (entries table) (hash-fold (lambda (k v n) (+ n 1)) 0 table))
(define (check what ok)
  (if (not ok) (begin (display "FAIL: ") (display what) (newline) (exit 1))))

(define table (make-weak-key-hash-table))
(define kept '())
(define total 100000)
(let loop ((i 0))
  (if (< i total)
      (let ((key (list 'key i)))
        (hash-set! table key i)
        (if (= 0 (modulo i 10)) (set! kept (cons key kept)))
        (loop (+ i 1)))))
(check "kept entries present before collecting" (>= (entries table) (length kept)))
(gc) (gc) (gc)
;; Every kept key is still there with its value.
(for-each (lambda (key) (check "kept key present" (equal? (hash-ref table key) (cadr key)))) kept)
;; Most dead keys are gone (conservative stack scanning may keep a handful).
(define remaining (entries table))
(check "dead entries dropped" (< remaining (+ (length kept) (quotient total 20))))

;; Weak-value tables: values that died disappear.
(define values-table (make-weak-value-hash-table))
(let loop ((i 0))
  (if (< i 20000) (begin (hash-set! values-table i (make-string 10 #\x)) (loop (+ i 1)))))
(gc) (gc)
(check "dead values dropped" (< (entries values-table) 2000))
(display "ok: weak tables, ") (display remaining) (display " of ") (display total)
(display " entries left") (newline)
