;; threads.scm: Guile threads allocate and collect concurrently; every result is checked.
(use-modules (ice-9 threads))
(define (check what ok)
  (if (not ok) (begin (display "FAIL: ") (display what) (newline) (exit 1))))

(define (work seed)
  ;; builds and drops lists, keeps one, collects now and then
  (let loop ((round 0) (keep '()))
    (if (= round 300)
        (apply + keep)
        (let ((l (map (lambda (i) (+ i seed)) (iota 1000))))
          (if (= 0 (modulo round 100)) (gc))
          (loop (+ round 1) (if (= round 150) l keep))))))

(define threads (map (lambda (seed) (call-with-new-thread (lambda () (work seed)))) (iota 4)))
(define results (map join-thread threads))
(define (expected seed) (+ (* 1000 seed) (/ (* 999 1000) 2)))
(for-each (lambda (seed result) (check "thread result" (= result (expected seed))))
          (iota 4) results)
(check "par-map" (equal? (par-map (lambda (x) (length (iota (* x 1000)))) '(1 2 3 4 5 6 7 8))
                         '(1000 2000 3000 4000 5000 6000 7000 8000)))
(display "ok: threads") (newline)
