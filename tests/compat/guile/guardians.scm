;; guardians.scm: a guardian returns objects once they are unreachable, and never live ones.
;; The dead objects are tagged with a string, not a symbol: a symbol that only guarded objects
;; refer to may be uninterned before the guardian revives them (Guile's weak symbol table is
;; cleared first, on bdwgc too), and `'dead' read afterwards would be another symbol.
(define (check what ok)
  (if (not ok) (begin (display "FAIL: ") (display what) (newline) (exit 1))))

(define g (make-guardian))
(define live (list 'live 'object))
(g live)
(define total 10000)
(let loop ((i 0))
  (if (< i total)
      (begin (g (list "dead" i)) (loop (+ i 1)))))
(gc) (gc) (gc)
(define returned
  (let loop ((n 0))
    (let ((x (g)))
      (if x
          (begin (check "a returned object is one of the dead ones"
                        (and (not (eq? x live)) (equal? (car x) "dead") (integer? (cadr x))))
                 (loop (+ n 1)))
          n))))
(check "most dead objects returned" (> returned (quotient (* total 9) 10)))
(check "the live object is intact" (equal? live '(live object)))
(display "ok: guardians returned ") (display returned) (display " of ") (display total)
(newline)
