;; deep_lists.scm: long and deep structures survive collections intact; garbage is reclaimed.
(define (check what ok)
  (if (not ok) (begin (display "FAIL: ") (display what) (newline) (exit 1))))

(define (iota-list n)
  (let loop ((i (- n 1)) (acc '())) (if (< i 0) acc (loop (- i 1) (cons i acc)))))

;; A 2-million-element list, kept across collections.
(define long (iota-list 2000000))
(gc)
(check "long list length" (= (length long) 2000000))
(check "long list sum" (= (apply + long) (/ (* 1999999 2000000) 2)))

;; A list nested 200,000 deep through the car: (((... (0) ...))).
(define (nest n) (let loop ((i 0) (acc '(0))) (if (= i n) acc (loop (+ i 1) (list acc)))))
(define (depth x) (let loop ((x x) (d 0)) (if (pair? (car x)) (loop (car x) (+ d 1)) d)))
(define deep (nest 200000))
(gc)
(check "deep list depth" (= (depth deep) 200000))

;; Churn: 200 rounds of 50,000-element garbage lists, then vectors of strings.
(let loop ((round 0))
  (if (< round 200)
      (begin (iota-list 50000) (loop (+ round 1)))))
(define vec (make-vector 100000 #f))
(let loop ((i 0))
  (if (< i 100000)
      (begin (vector-set! vec i (number->string i)) (loop (+ i 1)))))
(gc)
(check "vector of strings" (string=? (vector-ref vec 99999) "99999"))
(check "long list still intact" (= (list-ref long 1234567) 1234567))
(check "deep list still intact" (= (depth deep) 200000))
(display "ok: deep lists") (newline)
