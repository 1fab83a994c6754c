;;; binary_trees.scm: the Benchmarks Game's binary-trees in Guile, the allocation-heavy
;;; workload of bench/guile/run.sh. Usage: guile-3.0 binary_trees.scm DEPTH
;;; Prints the game's check lines; run.sh compares them with the expected output.
(use-modules (ice-9 format))

(define (make-tree depth)
  (if (= depth 0)
      (cons #f #f)
      (cons (make-tree (- depth 1)) (make-tree (- depth 1)))))

(define (check tree)
  (if (car tree)
      (+ 1 (check (car tree)) (check (cdr tree)))
      1))

(define (main depth)
  (let* ((min-depth 4)
         (max-depth (max (+ min-depth 2) depth))
         (stretch (+ max-depth 1)))
    (format #t "stretch tree of depth ~a\t check: ~a\n" stretch (check (make-tree stretch)))
    (let ((long-lived (make-tree max-depth)))
      (do ((d min-depth (+ d 2))) ((> d max-depth))
        (let ((iterations (expt 2 (+ (- max-depth d) min-depth))))
          (let loop ((i 0) (sum 0))
            (if (< i iterations)
                (loop (+ i 1) (+ sum (check (make-tree d))))
                (format #t "~a\t trees of depth ~a\t check: ~a\n" iterations d sum)))))
      (format #t "long lived tree of depth ~a\t check: ~a\n" max-depth (check long-lived)))))

(main (string->number (cadr (command-line))))
