def execute_command(image):
    # Question: Which is further to the left, the circle or the square?
    # Answer "circle" or "square", or "N/A" if one of them is missing.
    image_patch = ImagePatch(image)
    circle_patches = image_patch.find("circle")
    square_patches = image_patch.find("square")
    if len(circle_patches) == 0 or len(square_patches) == 0:
        # the question needs both objects
        return "N/A"
    circle_patch = circle_patches[0]
    square_patch = square_patches[0]
    if circle_patch.horizontal_center < square_patch.horizontal_center:
        return "circle"
    return "square"
