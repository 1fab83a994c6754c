;; guarded_symbols.scm: a symbol that only guarded (finalizable) objects refer to stays interned:
;; the objects a guardian returns still hold the very symbol the program reads again later.
;; (Shade's libgc.so.1 once lost it when objects of programs without interior pointers had no
;; byte past their end: `(car x)' printed `dead' and was not `eq?' to 'dead.)
(define (check what ok x)
  (if (not ok)
      (begin (display "FAIL: ") (display what) (display ": ") (write x) (newline) (exit 1))))
(define g (make-guardian))
(define total 10000)
(let loop ((i 0))
  (if (< i total)
      (begin (g (list 'dead i)) (loop (+ i 1)))))
(gc) (gc) (gc)
(define returned
  (let loop ((n 0))
    (let ((x (g)))
      (if x
          (begin (check "a returned object holds the interned symbol" (eq? (car x) 'dead) x)
                 (loop (+ n 1)))
          n))))
(check "most objects returned" (> returned (quotient (* total 9) 10)) returned)
(display "ok: guarded symbols, ") (display returned) (display " returned") (newline)
